// Type-level tests of weir/idempotency: `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import { App, type Middleware } from 'weir';
import type { Cache } from 'weir/cache';
import { idempotency, idempotencyKey } from 'weir/idempotency';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

type State = { user: { id: string } };

export function scopes(cache: Cache): void {
  const app = new App<State>();
  // The scope sees the app's typed state.
  const guard = idempotency<State>({ cache, scope: (ctx) => ctx.state.user.id });
  expectType<Equal<typeof guard, Middleware<State>>>(true);
  app.post('/payments', guard, (ctx) => {
    const key = idempotencyKey(ctx);
    expectType<Equal<typeof key, string | undefined>>(true);
    return { key };
  });
  // @ts-expect-error: a scope must answer a string
  idempotency<State>({ cache, scope: (ctx) => ctx.state.user });
  // @ts-expect-error: state the app does not declare cannot be read
  idempotency({ cache, scope: (ctx) => ctx.state.user.id });
  // A cache opened at start may be given as a function.
  idempotency({ cache: () => cache, methods: ['POST', 'PUT'], required: true });
  // @ts-expect-error: the cache is required
  idempotency({ windowMs: 1000 });
}
