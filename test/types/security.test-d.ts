// Type-level tests of weir/security: `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import { App, type Middleware } from 'weir';
import { type AuthUser, requireAuth, type Session, session } from 'weir/security';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

interface Member extends AuthUser {
  readonly id: number;
  readonly name: string;
}

export function guards(): void {
  const app = new App();
  app.use(session());
  // The guard types ctx.state.user for the handler after it, with no App<State> declaration.
  app.get('/me', requireAuth(), (ctx) => {
    expectType<Equal<typeof ctx.state.user, AuthUser>>(true);
    return { id: ctx.state.user.id };
  });
  app.get('/api/me', requireAuth<Member>({ token: () => ({ id: 1, name: 'a' }) }), (ctx) => {
    expectType<Equal<typeof ctx.state.user, Member>>(true);
    return ctx.state.user.name;
  });
  // With route options, and after plain middleware.
  const timing: Middleware = async (_ctx, next) => next();
  app.get('/a', { timeoutMs: 1000 }, requireAuth(), (ctx) => ctx.state.user.id);
  app.get('/b', timing, requireAuth(), (ctx) => ctx.state.user.id);
  // Without the guard there is no user.
  // @ts-expect-error: state the route does not declare cannot be read
  app.get('/c', timing, (ctx) => ctx.state.user.id);
  // The session is on every context, typed.
  app.post('/visit', (ctx) => {
    expectType<Equal<typeof ctx.session, Session>>(true);
    expectType<Equal<ReturnType<typeof ctx.session.get<'user'>>, AuthUser | undefined>>(true);
    ctx.session.set('visits', 1);
    return null;
  });
  // An app with typed state keeps it beside the guard's.
  const typed = new App<{ requestId: string }>();
  typed.get('/d', requireAuth(), (ctx) => {
    expectType<Equal<typeof ctx.state.requestId, string>>(true);
    return ctx.state.user.id;
  });
}
