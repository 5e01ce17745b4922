// Type-level tests of weir/http-client: `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import * as v from 'valibot';
import { App } from 'weir';
import { createHttpClient, type UpstreamResponse } from 'weir/http-client';
import { z } from 'zod';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

const upstream = createHttpClient({ baseUrl: 'http://127.0.0.1:3000' });
const User = v.object({ id: v.number(), name: v.string() });
const Order = z.object({ total: z.number() });

export async function calls() {
  // A schema's output is what the call resolves to.
  const user = await upstream.getJson('/users/7', { schema: User });
  expectType<Equal<typeof user, { id: number; name: string }>>(true);
  const order = await upstream.postJson('/orders', { sku: 'a1' }, { schema: Order });
  expectType<Equal<typeof order, { total: number }>>(true);
  // Without one: the type argument, unknown by default.
  const raw = await upstream.getJson('/anything');
  expectType<Equal<typeof raw, unknown>>(true);
  const told = await upstream.getJson<{ n: number }>('/n');
  expectType<Equal<typeof told, { n: number }>>(true);
  const res = await upstream.get('/users/7');
  expectType<Equal<typeof res, UpstreamResponse>>(true);
  expectType<Equal<typeof res.status, number>>(true);
}

// A request's ctx is accepted as it is.
new App().get('/me', (ctx) => upstream.getJson('/users/7', { ctx, schema: User }));

// @ts-expect-error: a schema must be a Standard Schema
upstream.getJson('/users/7', { schema: { parse: () => 1 } });
