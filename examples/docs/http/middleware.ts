import { App, HttpError, type Middleware } from 'weir';

type State = { tenant?: string };
export const app = new App<State>();

// Wraps every route. After `await next()` the outcome is known, errors and 404s included.
app.use(async (ctx, next) => {
  const started = performance.now();
  await next();
  ctx.set('server-timing', `app;dur=${(performance.now() - started).toFixed(1)}`);
  if (ctx.error !== undefined) ctx.log.warn({ status: ctx.statusCode }, 'request failed');
});

// A guard: it throws instead of calling next(), or validates input and adds typed state.
const tenant: Middleware<State> = async (ctx, next) => {
  const name = ctx.headers['x-tenant'];
  if (typeof name !== 'string' || !/^[a-z]{1,32}$/.test(name)) {
    throw HttpError.badRequest('x-tenant must be 1 to 32 lowercase letters', { field: 'x-tenant' });
  }
  ctx.state.tenant = name;
  await next();
};
app.get('/tenant', tenant, (ctx) => ({ tenant: ctx.state.tenant }));
