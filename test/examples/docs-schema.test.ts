/** docs/schema.md: the orders example validates query, params, headers and body, and answers its statuses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inject } from 'weir/testing';
import { app } from '../../examples/docs/schema/orders.ts';
import { app as bookApp } from '../../examples/docs/schema/typebox.ts';

type Issue = { in: string; path: string; message: string };
const issuesOf = (res: { json<T>(): T }) =>
  res
    .json<{ error: { code: string; details: { issues: Issue[] } } }>()
    .error.details.issues.map((i) => `${i.in}:${i.path}`);

describe('docs/schema.md', () => {
  it('creates, lists and reads orders through their schemas', async () => {
    const post = (body: unknown, tenant = 'acme') =>
      inject(app, { method: 'POST', url: '/orders', headers: { 'x-tenant': tenant }, body });
    const made = await post({ items: [{ sku: 'a', quantity: 2 }] });
    assert.equal(made.status, 201);
    const { id } = made.json<{ id: string }>();
    assert.deepEqual((await inject(app, { url: `/orders/${id}` })).json(), { id, status: 'open', items: 1 });
    assert.equal((await inject(app, { url: '/orders?limit=1&status=open' })).json<unknown[]>().length, 1);
    assert.equal((await post({ items: [{ sku: 'a', quantity: 1 }], coupon: 'EXPIRED' })).status, 422);
  });

  it('refuses what breaks them, naming each part and path', async () => {
    const bad = await inject(app, {
      method: 'POST',
      url: '/orders',
      headers: { 'x-tenant': 'ACME!' },
      body: { items: [{ sku: 'a', quantity: 0 }], extra: true },
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(issuesOf(bad), ['headers:x-tenant'], 'headers first: the body is not even read');
    const body = await inject(app, {
      method: 'POST',
      url: '/orders',
      headers: { 'x-tenant': 'acme' },
      body: { items: [{ sku: 'a', quantity: 0 }], extra: true },
    });
    assert.deepEqual(issuesOf(body).sort(), ['body:extra', 'body:items[0].quantity']);
    assert.deepEqual(issuesOf(await inject(app, { url: '/orders?limit=500&status=lost' })).sort(), [
      'query:limit',
      'query:status',
    ]);
    assert.deepEqual(issuesOf(await inject(app, { url: '/orders/not-a-uuid' })), ['params:id']);
    assert.equal((await inject(app, { url: `/orders/${crypto.randomUUID()}` })).status, 404);
  });

  it('TypeBox: fills defaults, parses the id, answers its statuses with the declared keys only', async () => {
    const made = await inject(bookApp, {
      method: 'POST',
      url: '/books',
      body: { title: 'Dune', isAdmin: true },
    });
    assert.equal(made.status, 201, made.body);
    assert.deepEqual(made.json(), { id: 1, title: 'Dune', tags: [] });
    assert.deepEqual((await inject(bookApp, { url: '/books/1' })).json(), { id: 1, title: 'Dune', tags: [] });
    assert.equal((await inject(bookApp, { url: '/books/99' })).status, 404);
    assert.deepEqual(issuesOf(await inject(bookApp, { url: '/books/one' })), ['params:id']);
    const bad = await inject(bookApp, { method: 'POST', url: '/books', body: { title: '', isbn: 'x' } });
    assert.deepEqual(issuesOf(bad).sort(), ['body:isbn', 'body:title']);
  });
});
