import { App, sleep } from 'weir';

export const app = new App({ trustDeadline: ['127.0.0.1', '::1'] }); // the gateway may send a tighter one
export const audited: string[] = [];

const recommend = async (id: string, { signal }: { signal: AbortSignal }) => {
  await sleep(20, { signal }); // a call to another service
  return [`more like ${id}`];
};
const audit = async (id: string, { signal }: { signal: AbortSignal }) => {
  await sleep(20, { signal });
  audited.push(id);
};

app.get('/orders/:id', { timeoutMs: 2000 }, async (ctx) => {
  const order = { id: ctx.params.id }; // db.with(ctx).one`…` would stop at the deadline too
  if (ctx.timeLeft() < 100) return { order }; // no time for the optional part
  const offers = ctx.tasks.spawn((signal) => recommend(order.id, { signal })); // cancelled with the response
  app.background((signal) => audit(order.id, { signal }), { name: 'audit' }); // outlives it, awaited at stop
  return { order, offers: await offers };
});
