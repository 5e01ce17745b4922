import * as v from 'valibot';
import { App } from 'weir';

export const app = new App();

// Query strings and path params arrive as strings: parse them in the schema.
const Page = v.object({
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number), v.minValue(1), v.maxValue(100)),
    '20',
  ),
  status: v.optional(v.picklist(['open', 'shipped'])),
});
const OrderId = v.object({ id: v.pipe(v.string(), v.uuid()) });
const NewOrder = v.strictObject({
  // strictObject: a key the schema does not know is an issue, not silently dropped
  items: v.pipe(
    v.array(v.object({ sku: v.string(), quantity: v.pipe(v.number(), v.integer(), v.minValue(1)) })),
    v.minLength(1),
  ),
  coupon: v.optional(v.pipe(v.string(), v.maxLength(16))),
});
const Order = v.object({ id: v.string(), status: v.picklist(['open', 'shipped']), items: v.number() });
const Problem = v.object({ error: v.string() });

const orders = new Map<string, v.InferOutput<typeof Order>>();

app.get('/orders', { schema: { query: Page, response: { 200: v.array(Order) } } }, (ctx) =>
  [...orders.values()]
    .filter((o) => ctx.query.status === undefined || o.status === ctx.query.status)
    .slice(0, ctx.query.limit),
);

app.post(
  '/orders',
  {
    schema: {
      body: NewOrder,
      headers: v.object({ 'x-tenant': v.pipe(v.string(), v.regex(/^[a-z]{2,20}$/)) }),
      response: { 201: Order, 422: Problem },
    },
  },
  (ctx) => {
    if (ctx.body.coupon === 'EXPIRED') return ctx.reply(422, { error: 'That coupon has expired' });
    const order = { id: crypto.randomUUID(), status: 'open' as const, items: ctx.body.items.length };
    orders.set(order.id, order);
    return ctx.reply(201, order);
  },
);

app.get('/orders/:id', { schema: { params: OrderId, response: { 200: Order, 404: Problem } } }, (ctx) => {
  return orders.get(ctx.params.id) ?? ctx.reply(404, { error: 'No such order' });
});
