import * as v from 'valibot';
import { App } from 'weir';

const Order = v.object({ id: v.string(), status: v.picklist(['open', 'paid']), items: v.number() });
const Problem = v.object({ error: v.string() });

export const app = new App();
app.get(
  '/orders/:id',
  {
    summary: 'One order',
    tags: ['orders'],
    schema: {
      params: v.object({ id: v.pipe(v.string(), v.uuid()) }),
      response: { 200: Order, 404: Problem },
    },
  },
  (ctx) => ctx.reply(404, { error: `No order ${ctx.params.id}` }),
);
app.get('/healthz', { hidden: true }, () => 'ok');

// What /openapi.json answers, and what `weir openapi` writes.
export const document = app.openapi({
  info: { title: 'Orders', version: '2.1.0' },
  servers: [{ url: 'https://api.example.com' }],
});
app.get('/openapi.json', { hidden: true }, () => document);
