import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { describe, it } from 'node:test';
import { brotliCompressSync, constants, createBrotliCompress, deflateSync, gzipSync } from 'node:zlib';
import { App } from 'weir';
import { inject } from 'weir/testing';
import { type RawResponse, serve } from '../helpers/http.ts';

const LIMIT = 64 * 1024;

function decompressingApp(): App {
  const app = new App({ logger: false, decompressBodies: true, bodyLimitBytes: LIMIT });
  app.post('/json', async (ctx) => ({ got: await ctx.json() }));
  app.post('/text', async (ctx) => ({ length: (await ctx.text()).length }));
  return app;
}

const post = (app: App, url: string, body: Buffer, encoding: string, type = 'application/json') =>
  inject(app, {
    method: 'POST',
    url,
    headers: { 'content-type': type, 'content-encoding': encoding },
    body,
  });

const code = (res: { json<T>(): T }): string => res.json<{ error: { code: string } }>().error.code;

/** A gzip body of `members` members, each 16 MiB of zeros: `members` × 16 MiB once inflated. */
function gzipBomb(members: number): Buffer {
  const member = gzipSync(Buffer.alloc(16 * 1024 * 1024), { level: 9 });
  return Buffer.concat(Array.from({ length: members }, () => member));
}

/** A brotli body of 1 GiB of zeros, made in 1 MiB writes. */
async function brotliBomb(): Promise<Buffer> {
  const compressor = createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5 } });
  const out: Buffer[] = [];
  compressor.on('data', (chunk: Buffer) => out.push(chunk));
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < 1024; i++) {
    if (!compressor.write(zeros)) await new Promise((resolve) => compressor.once('drain', resolve));
  }
  compressor.end();
  await new Promise((resolve) => compressor.on('end', resolve));
  return Buffer.concat(out);
}

/** Posts `body` over a real socket, chunked, and resolves with the response. */
function postRaw(port: number, body: Buffer, encoding: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/text',
        headers: { 'content-type': 'text/plain', 'content-encoding': encoding },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      },
    );
    // The server may refuse and close before the whole body is written.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    for (let at = 0; at < body.length; at += 16 * 1024) req.write(body.subarray(at, at + 16 * 1024));
    req.end();
  });
}

describe('decompressBodies', () => {
  const payload = { items: Array.from({ length: 50 }, (_, i) => `item ${i}`) };
  const bytes = Buffer.from(JSON.stringify(payload));

  it('reads gzip, x-gzip, deflate and br bodies, whatever the case of the header', async () => {
    const app = decompressingApp();
    const encoded: [string, Buffer][] = [
      ['gzip', gzipSync(bytes)],
      ['x-gzip', gzipSync(bytes)],
      ['deflate', deflateSync(bytes)],
      ['br', brotliCompressSync(bytes)],
      [' GZIP ', gzipSync(bytes)],
    ];
    for (const [encoding, body] of encoded) {
      const res = await post(app, '/json', body, encoding);
      assert.equal(res.status, 200, `${encoding}: ${res.body}`);
      assert.deepEqual(res.json(), { got: payload }, encoding);
    }
  });

  it('holds the decompressed size to the body limit: the limit passes, one byte more is 413', async () => {
    const app = decompressingApp();
    const at = await post(app, '/text', gzipSync(Buffer.alloc(LIMIT, 97)), 'gzip', 'text/plain');
    assert.equal(at.status, 200);
    assert.deepEqual(at.json(), { length: LIMIT });
    const over = await post(app, '/text', gzipSync(Buffer.alloc(LIMIT + 1, 97)), 'gzip', 'text/plain');
    assert.equal(over.status, 413);
    assert.equal(code(over), 'WEIR_ERR_BODY_TOO_LARGE');
    assert.match(over.json<{ error: { message: string } }>().error.message, /decompressed/);
    assert.equal(over.headers.connection, 'close');
  });

  it('answers 400 for corrupt or truncated data, 415 for an encoding it does not decompress', async () => {
    const app = decompressingApp();
    const whole = gzipSync(bytes);
    const bad: [string, Buffer, number, string][] = [
      ['gzip', Buffer.from('not gzip at all'), 400, 'WEIR_ERR_BODY_BAD_ENCODING'],
      ['gzip', whole.subarray(0, whole.length - 12), 400, 'WEIR_ERR_BODY_BAD_ENCODING'],
      ['br', Buffer.from([0xff, 0xff, 0xff, 0xff]), 400, 'WEIR_ERR_BODY_BAD_ENCODING'],
      ['deflate', gzipSync(bytes), 400, 'WEIR_ERR_BODY_BAD_ENCODING'],
      ['zstd', whole, 415, 'WEIR_ERR_BODY_UNSUPPORTED_TYPE'],
      ['gzip, br', whole, 415, 'WEIR_ERR_BODY_UNSUPPORTED_TYPE'],
      ['constructor', whole, 415, 'WEIR_ERR_BODY_UNSUPPORTED_TYPE'],
    ];
    for (const [encoding, body, status, errorCode] of bad) {
      const res = await post(app, '/json', body, encoding);
      assert.equal(res.status, status, `${encoding}: ${res.body}`);
      assert.equal(code(res), errorCode, encoding);
    }
  });

  it("keeps answering 415 when off, and a route's option overrides the app's", async () => {
    const app = new App({ logger: false });
    app.post('/off', async (ctx) => ctx.json());
    app.post('/on', { decompressBodies: true }, async (ctx) => ctx.json());
    const off = await post(app, '/off', gzipSync(bytes), 'gzip');
    assert.equal(off.status, 415);
    assert.equal(code(off), 'WEIR_ERR_BODY_UNSUPPORTED_TYPE');
    const on = await post(app, '/on', gzipSync(bytes), 'gzip');
    assert.equal(on.status, 200);
    assert.deepEqual(on.json(), payload);
    assert.throws(() => new App({ decompressBodies: 'yes' as never }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  it('reads a large body sent in chunks, the inflater pacing the request, and refuses a compressed body past the limit', {
    timeout: 30_000,
  }, async () => {
    const app = new App({ logger: false, decompressBodies: true, bodyLimitBytes: 4 * 1024 * 1024 });
    app.post('/text', async (ctx) => ({ length: (await ctx.text()).length }));
    const handle = await serve(app);
    try {
      const words = Array.from({ length: 300_000 }, (_, i) => `w${(i * 7919) % 10_007}`).join(' ');
      const ok = await postRaw(handle.port, gzipSync(words, { level: 1 }), 'gzip');
      assert.equal(ok.status, 200, ok.body);
      assert.deepEqual(JSON.parse(ok.body), { length: words.length });
      // Random bytes do not compress: more than the limit arrives before a byte of it could inflate past it.
      const noise = gzipSync(randomBytes(5 * 1024 * 1024), { level: 1 });
      const refused = await postRaw(handle.port, noise, 'gzip');
      assert.equal(refused.status, 413);
      assert.match(JSON.parse(refused.body).error.message, /compressed bytes/);
    } finally {
      await handle.close();
    }
  });

  for (const [name, make] of [
    ['gzip', async () => gzipBomb(64)],
    ['br', brotliBomb],
  ] as const) {
    it(`refuses a ${name} bomb (1 GiB once inflated) with 413, memory flat`, {
      timeout: 30_000,
    }, async () => {
      const bomb = await make();
      assert.ok(bomb.length < LIMIT * 16, `the bomb is small: ${bomb.length} bytes`);
      const app = new App({ logger: false, decompressBodies: true, bodyLimitBytes: 2 * 1024 * 1024 });
      app.post('/text', async (ctx) => ({ length: (await ctx.text()).length }));
      const handle = await serve(app);
      try {
        const before = process.memoryUsage();
        const res = await postRaw(handle.port, bomb, name);
        const afterUse = process.memoryUsage();
        assert.equal(res.status, 413, res.body);
        assert.equal(JSON.parse(res.body).error.code, 'WEIR_ERR_BODY_TOO_LARGE');
        const grown = afterUse.rss - before.rss + (afterUse.arrayBuffers - before.arrayBuffers);
        assert.ok(grown < 128 * 1024 * 1024, `memory grew by ${Math.round(grown / 1048576)} MiB`);
      } finally {
        await handle.close();
      }
    });
  }
});
