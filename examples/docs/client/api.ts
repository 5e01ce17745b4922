import * as v from 'valibot';
import { App, HttpError } from 'weir';

const Item = v.object({ sku: v.string(), name: v.string(), stock: v.number() });
const Problem = v.object({ error: v.string() });
const items = new Map([['a-1', { sku: 'a-1', name: 'Anvil', stock: 3 }]]);

const Search = v.object({
  q: v.optional(v.string()),
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d{1,3}$/), v.transform(Number), v.minValue(1)), '20'),
});
const Stock = v.object({ name: v.string(), stock: v.pipe(v.number(), v.integer(), v.minValue(0)) });

// One chain: each adder returns the app, its type carrying one more route.
const catalog = new App()
  .get('/items', { schema: { query: Search, response: { 200: v.array(Item) } } }, (ctx) =>
    [...items.values()].filter((i) => i.name.includes(ctx.query.q ?? '')).slice(0, ctx.query.limit),
  )
  .get('/items/:sku', { schema: { response: { 200: Item, 404: Problem } } }, (ctx) => {
    return items.get(ctx.params.sku) ?? ctx.reply(404, { error: 'No such item' });
  })
  .put('/items/:sku', { schema: { body: Stock, response: { 200: Item } } }, (ctx) => {
    const item = { sku: ctx.params.sku, ...ctx.body };
    items.set(item.sku, item);
    return item;
  })
  .delete('/items/:sku', (ctx) => {
    if (!items.delete(ctx.params.sku)) throw HttpError.notFound('No such item', undefined, 'ITEM_NOT_FOUND');
  })
  // No schemas: typed from what the handler returns, as the client reads it (the Date as a string).
  .get('/stats', () => ({ items: items.size, at: new Date() }));

// A mounted chain keeps its routes, under the prefix.
export const app = new App({ logger: false }).get('/healthz', () => 'ok').route('/api', catalog);

/** What a client needs of the server: its type, nothing else (`import type`). */
export type Api = typeof app;
