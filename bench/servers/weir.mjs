// weir: the framework under test, imported from the compiled build (run `npm run build` at the repo root first).
import { App } from '../../dist/index.js';

const port = Number(process.env.PORT ?? 3000);

// REQUEST_ID=off (bench/http-paired.mjs's weir-noid): no X-Request-Id made and sent back, to show what that
// costs. A variable of this server, not of weir.
const app = new App({
  logger: false,
  ...(process.env.REQUEST_ID === 'off' && { requestId: { header: false } }),
});
// A string goes out as text/plain; charset=utf-8 with Content-Length, Date and Server.
app.get('/plaintext', () => 'Hello, World!');
// A plain object goes out as application/json, serialised per request.
app.get('/json', () => ({ message: 'Hello, World!' }));

await app.listen({ port, host: '127.0.0.1', signals: false });
console.log(`weir listening on http://127.0.0.1:${port}`);
