// The server of bench/uploads.mjs: one process, on 127.0.0.1:PORT, storing into DIR and removing each
// stored file once it is answered, so a run never fills the disk. weir is loaded from source (tsx).
//   POST /save     saveUploads() (no type check), the file streamed to a temp file then renamed
//   POST /checked  saveUploads({ allow: ['application/pdf'] }): the same, with the type read from the first bytes
//   POST /raw      the raw body piped to a file (no parsing): the floor
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { App } from '../../src/index.ts';
import { saveUploads } from '../../src/upload/index.ts';

const dir = process.env.DIR as string;
const port = Number(process.env.PORT);
const limits = { maxFileBytes: 2 ** 40, maxTotalBytes: 2 ** 40, minFreeBytes: 512 * 1024 * 1024 };

const app = new App({ logger: false });
app.post('/save', async (ctx) => {
  const { files } = await saveUploads(ctx, { dir, ...limits });
  await Promise.all(files.map((f) => rm(f.path)));
  return { bytes: files.reduce((n, f) => n + f.size, 0) };
});
app.post('/checked', async (ctx) => {
  const { files } = await saveUploads(ctx, { dir, allow: ['application/pdf'], ...limits });
  await Promise.all(files.map((f) => rm(f.path)));
  return { bytes: files.reduce((n, f) => n + f.size, 0) };
});
app.post('/raw', async (ctx) => {
  const path = join(dir, `raw-${process.hrtime.bigint()}`);
  await pipeline(ctx.body, createWriteStream(path));
  await rm(path);
  return { ok: true };
});
app.get('/ready', () => 'ok');
await app.listen({ port, host: '127.0.0.1' });
