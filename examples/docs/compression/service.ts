import { App, serveStatic } from 'weir';

// On by default; these are the defaults, spelled out.
export const app = new App({
  compression: { thresholdBytes: 1024, brotliQuality: 3, gzipLevel: 6, encodings: ['br', 'gzip'] },
  // Accept gzip, deflate and br request bodies; bodyLimitBytes holds for the decompressed size.
  decompressBodies: true,
});

// 200 rows of JSON: about 9 KiB, sent as about 2 KiB of brotli to a browser.
app.get('/products', () =>
  Array.from({ length: 200 }, (_, i) => ({ id: i + 1, name: `Product ${i + 1}`, inStock: i % 3 !== 0 })),
);

// A page that shows a secret (the CSRF token) beside what the request chose (the search term): never
// compressed, so its size tells an eavesdropper nothing about the token (BREACH).
app.get('/search', (ctx) => {
  ctx.noCompression();
  const term = ctx.query.q ?? '';
  const token = ctx.cookies.csrf ?? '';
  return `<form><input name="csrf" value="${encodeURIComponent(token)}">You searched: ${encodeURIComponent(term)}</form>`;
});

// A client that gzips its upload: read as usual, at most 1 MiB once decompressed.
app.post('/events', async (ctx) => {
  const events = await ctx.json<unknown[]>();
  return { received: events.length };
});

// Serves public/app.js.br or app.js.gz when they exist and the browser takes them.
app.get('/assets/*', serveStatic(new URL('./public', import.meta.url).pathname));
