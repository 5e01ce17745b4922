// weir for bench/compression.mjs: the TechEmpower /plaintext and /json, and a 10 KiB text and a 10 KiB
// JSON response, on the weir tree WEIR_SRC names (its src/index.ts, run through tsx: the runner compares
// two trees, this one and the commit before compression, the same way). COMPRESSION=off passes
// `compression: false`.

import { join } from 'node:path';
import { ROWS, TEXT_10K } from '../lib/compression-bodies.mjs';

const { App } = await import(join(process.env.WEIR_SRC, 'src/index.ts'));
const port = Number(process.env.PORT ?? 3000);

const app = new App({ logger: false, ...(process.env.COMPRESSION === 'off' ? { compression: false } : {}) });
app.get('/plaintext', () => 'Hello, World!');
app.get('/json', () => ({ message: 'Hello, World!' }));
app.get('/text-10k', () => TEXT_10K);
// Serialised per request, as a handler's data is.
app.get('/json-10k', () => ({ rows: ROWS }));

await app.listen({ port, host: '127.0.0.1', signals: false });
console.log(`weir listening on http://127.0.0.1:${port}`);
