// The protection benchmark's server (see bench/protection.mjs), from the compiled build (run `npm run
// build` at the repo root first). GET /items answers a small JSON array, GET /page a small HTML page;
// PROTECTION_VARIANT says what stands in front:
//   without           nothing (the route's handler alone, no middleware chain at all);
//   noop              one async middleware that only awaits next(): the price of any middleware;
//   rate-memory       rateLimit() on openRateLimitStore('memory:'), keyed by the client's address;
//   rate-memory-keys  the same, keyed by the request's X-Client header;
//   rate-redis        rateLimit() on openRateLimitStore(RATE_URL, { prefix: RATE_PREFIX }), by address;
//   headers+cors      securityHeaders() + cors({ origin: ['https://app.example.com'] });
//   without-html      GET /page with no middleware, a fixed nonce-sized string where the nonces go;
//   headers-html      securityHeaders() on GET /page, which puts cspNonce(ctx) in the page.
// The limit (1e9 a day) is never reached: every request is checked and allowed. A day, not a minute: the
// interval between two requests' worth of allowance (window ÷ limit, 0.0864 ms) must stay above what a
// timestamp in ms can resolve (about 0.00024 ms today); with 1e9 a minute (0.00006 ms) it does not, and
// the Redis store's script then sets an expiry of 0 ms, which Redis refuses, so every check fails (open).
// The Redis keys are under RATE_PREFIX; the runner removes them.
import { App, html } from '../../dist/index.js';
import { cors, cspNonce, openRateLimitStore, rateLimit, securityHeaders } from '../../dist/security/index.js';

const port = Number(process.env.PORT ?? 3000);
const variant = process.env.PROTECTION_VARIANT ?? 'without';
const app = new App({ logger: false });

const items = () => [
  { id: 1, name: 'apple', price: 120 },
  { id: 2, name: 'pear', price: 95 },
  { id: 3, name: 'plum', price: 60 },
];
/** The page; `nonce` goes on its inline style and script (24 characters, as cspNonce()'s are). */
const page = (nonce) =>
  html(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Items</title><style nonce="${nonce}">body{font:16px/1.4 sans-serif}</style></head><body><ul><li>apple</li><li>pear</li><li>plum</li></ul><script nonce="${nonce}">document.body.dataset.ready='1'</script></body></html>`,
  );
const FIXED_NONCE = 'AAAAAAAAAAAAAAAAAAAAAA==';

const RATE = { limit: 1_000_000_000, windowMs: 86_400_000 };
let store;
switch (variant) {
  case 'without':
    app.get('/items', items);
    break;
  case 'noop':
    app.use(async function noop(_ctx, next) {
      await next();
    });
    app.get('/items', items);
    break;
  case 'rate-memory':
  case 'rate-memory-keys':
    store = await openRateLimitStore('memory:');
    app.use(
      rateLimit({
        ...RATE,
        store,
        ...(variant === 'rate-memory-keys' && { key: (ctx) => ctx.req.headers['x-client'] }),
      }),
    );
    app.get('/items', items);
    break;
  case 'rate-redis':
    store = await openRateLimitStore(process.env.RATE_URL ?? 'redis://127.0.0.1:6379', {
      prefix: process.env.RATE_PREFIX,
    });
    app.use(rateLimit({ ...RATE, store }));
    app.get('/items', items);
    break;
  case 'headers+cors':
    app.use(securityHeaders(), cors({ origin: ['https://app.example.com'] }));
    app.get('/items', items);
    break;
  case 'without-html':
    app.get('/page', () => page(FIXED_NONCE));
    break;
  case 'headers-html':
    app.use(securityHeaders());
    app.get('/page', (ctx) => page(cspNonce(ctx)));
    break;
  default:
    throw new Error(
      `PROTECTION_VARIANT ${variant}: expected without, noop, rate-memory, rate-memory-keys, rate-redis, headers+cors, without-html or headers-html`,
    );
}

const handle = await app.listen({ port, host: '127.0.0.1', signals: false });
console.log(
  `weir listening on http://127.0.0.1:${port} (${variant}${store ? `, rate limits on ${store.url}` : ''})`,
);
process.once('SIGTERM', async () => {
  await handle.close();
  await store?.close();
  process.exit(0);
});
