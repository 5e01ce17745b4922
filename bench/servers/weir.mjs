// weir: the framework under test, imported from the compiled build (run `npm run build` at the repo root first).
import { App } from '../../dist/index.js';

const port = Number(process.env.PORT ?? 3000);

const app = new App({ logger: false });
// A string goes out as text/plain; charset=utf-8 with Content-Length, Date and Server.
app.get('/plaintext', () => 'Hello, World!');
// A plain object goes out as application/json, serialised per request.
app.get('/json', () => ({ message: 'Hello, World!' }));

await app.listen({ port, host: '127.0.0.1', signals: false });
console.log(`weir listening on http://127.0.0.1:${port}`);
