import { App, HttpError } from 'weir';

export const app = new App();

app.get('/orders/:id', (ctx) => {
  if (!/^\d{1,9}$/.test(ctx.params.id)) {
    throw HttpError.badRequest('id must be a number', { field: 'id' }); // 400 BAD_REQUEST
  }
  throw new HttpError(404, 'ORDER_NOT_FOUND', `No order ${ctx.params.id}`); // your own code
});

// 503 with Retry-After: clients and load balancers come back later.
app.get('/maintenance', () => {
  throw HttpError.unavailable('Down for maintenance', 120);
});

// Anything that is not an HttpError is a 500: its stack goes to the log, never to the client
// (unless NODE_ENV=development).
app.get('/bug', () => {
  throw new Error('postgres://admin:hunter2@db/prod refused');
});
