import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { brotliDecompressSync, createGunzip, gunzipSync } from 'node:zlib';
import { App, etag, sse, stream, text } from 'weir';
import { inject } from 'weir/testing';
import { negotiateEncoding } from '../../src/http/compression/negotiate.ts';
import { isCompressible, variantTag, varyWithEncoding } from '../../src/http/compression/settings.ts';
import { serve } from '../helpers/http.ts';

const BIG = 'Hello, World! '.repeat(800); // 11,200 bytes of text
const decode = (encoding: unknown, body: Buffer): string =>
  encoding === 'br'
    ? brotliDecompressSync(body).toString()
    : encoding === 'gzip'
      ? gunzipSync(body).toString()
      : body.toString();

function quietApp(options: ConstructorParameters<typeof App>[0] = {}): App {
  return new App({ logger: false, ...options });
}

describe('Accept-Encoding negotiation', () => {
  const cases: [string, string | undefined][] = [
    ['br', 'br'],
    ['gzip', 'gzip'],
    ['gzip, deflate, br', 'br'],
    ['gzip, deflate, br, zstd', 'br'],
    ['deflate', undefined],
    ['', undefined],
    ['identity', undefined],
    ['identity;q=0', undefined],
    ['br;q=0.5, gzip', 'gzip'],
    ['gzip;q=0.5, br;q=0.5', 'br'],
    ['gzip;q=0', undefined],
    ['br;q=0, gzip;q=0', undefined],
    ['*', 'br'],
    ['*;q=0', undefined],
    ['br;q=0, *', 'gzip'],
    ['*;q=0.1, gzip', 'gzip'],
    ['BR', 'br'],
    ['GZip', 'gzip'],
    ['x-gzip', 'gzip'],
    ['  gzip ; q=0.8 ,br ;Q=0.9  ', 'br'],
    ['br;q=1.000', 'br'],
    ['br;q=0.001', 'br'],
    ['br;q=0.000', undefined],
    ['br;q=1.5, gzip', 'gzip'],
    ['br;q=2', undefined],
    ['br;q=-1, gzip;q=0.1', 'gzip'],
    ['br;q=abc, gzip', 'gzip'],
    ['br;q=0.1234, gzip', 'gzip'],
    ['br;q=, gzip', 'gzip'],
    ['br;q=NaN', undefined],
    ['br;level=5', 'br'],
    ['gzip;q=0.9, gzip;q=0', 'gzip'],
    ['constructor, __proto__, toString', undefined],
    [',,,;;;,=,q=1', undefined],
  ];
  for (const [header, expected] of cases) {
    it(`${JSON.stringify(header)} → ${expected ?? 'identity'}`, () => {
      assert.equal(negotiateEncoding(header, ['br', 'gzip']), expected);
    });
  }

  it('breaks ties by the order the app offers', () => {
    assert.equal(negotiateEncoding('gzip, br', ['gzip', 'br']), 'gzip');
    assert.equal(negotiateEncoding('br', ['gzip']), undefined);
  });

  it('survives hostile headers: 16 KiB of entries, long q-values, odd bytes', () => {
    assert.equal(negotiateEncoding(`${'a;q=0.5,'.repeat(2000)}gzip`, ['br', 'gzip']), 'gzip');
    assert.equal(negotiateEncoding(`br;q=0.${'9'.repeat(10_000)}`, ['br', 'gzip']), undefined);
    assert.equal(negotiateEncoding('\u0000br\uffff, gzip;q=\u0000', ['br', 'gzip']), undefined);
    assert.equal(negotiateEncoding(';'.repeat(16_000), ['br', 'gzip']), undefined);
  });
});

describe('compression rules', () => {
  it('compresses text, JSON, XML, JavaScript and SVG, never images, archives, fonts already packed or SSE', () => {
    for (const type of [
      'text/plain; charset=utf-8',
      'TEXT/HTML',
      'application/json',
      'application/problem+json',
      'application/atom+xml',
      'application/javascript',
      'image/svg+xml',
      'application/wasm',
    ]) {
      assert.ok(isCompressible(type), type);
    }
    for (const type of [
      'image/png',
      'image/webp',
      'video/mp4',
      'application/zip',
      'application/gzip',
      'font/woff2',
      'application/octet-stream',
      'text/event-stream',
      'text/event-stream; charset=utf-8',
      '',
    ]) {
      assert.ok(!isCompressible(type), type);
    }
  });

  it('merges accept-encoding into Vary once, and leaves Vary: * alone', () => {
    assert.equal(varyWithEncoding(undefined), 'accept-encoding');
    assert.equal(varyWithEncoding('Origin'), 'Origin, accept-encoding');
    assert.equal(varyWithEncoding('Origin, Accept-Encoding'), 'Origin, Accept-Encoding');
    assert.equal(varyWithEncoding(['Origin', 'Cookie']), 'Origin, Cookie, accept-encoding');
    assert.equal(varyWithEncoding('*'), '*');
  });

  it('suffixes strong, weak and unquoted tags', () => {
    assert.equal(variantTag('"abc"', 'br'), '"abc-br"');
    assert.equal(variantTag('W/"abc"', 'gzip'), 'W/"abc-gzip"');
    assert.equal(variantTag('abc', 'br'), 'abc-br');
  });
});

describe('response compression', () => {
  const app = quietApp();
  app.get('/text', () => BIG);
  app.get('/small', () => 'Hello, World!');
  app.get('/json', () => ({ rows: Array.from({ length: 400 }, (_, i) => ({ id: i, name: `row ${i}` })) }));
  app.get('/png', (ctx) => {
    ctx.set('content-type', 'image/png');
    return Buffer.alloc(20_000, 7);
  });
  app.get('/bytes', () => Buffer.alloc(20_000, 7));
  app.get('/encoded', () => text(BIG, { headers: { 'content-encoding': 'identity' } }));
  app.get('/no-transform', (ctx) => {
    ctx.set('cache-control', 'public, no-transform');
    return BIG;
  });
  app.get('/secret', (ctx) => {
    ctx.noCompression();
    return `${BIG} token=${ctx.query.q}`;
  });
  app.get('/vary', (ctx) => {
    ctx.set('vary', 'Origin');
    return BIG;
  });
  app.get('/created', (ctx) => {
    ctx.status(201);
    return BIG;
  });
  app.get('/huge', () => 'x'.repeat(300_000) + BIG); // above the synchronous bound: the thread pool
  // A header writeHead refuses, set past ctx.set()'s check: on the synchronous and the thread-pool paths.
  app.get('/bad-small', () => text(BIG, { headers: { 'x-bad': 'line\nbreak' } }));
  app.get('/bad-huge', () => text('x'.repeat(300_000), { headers: { 'x-bad': 'line\nbreak' } }));
  app.get('/events', (ctx) =>
    sse(
      ctx,
      (async function* () {
        yield { data: BIG };
      })(),
    ),
  );

  for (const encoding of ['br', 'gzip']) {
    it(`sends text and JSON above the threshold as ${encoding}, with Vary and the compressed length`, async () => {
      for (const url of ['/text', '/json', '/huge', '/created']) {
        const res = await inject(app, { url, headers: { 'accept-encoding': encoding } });
        assert.equal(res.headers['content-encoding'], encoding, url);
        assert.equal(res.headers.vary, 'accept-encoding', url);
        assert.equal(Number(res.headers['content-length']), res.rawBody.length, url);
        const plain = await inject(app, { url });
        assert.equal(decode(encoding, res.rawBody), plain.body, url);
        assert.ok(res.rawBody.length < plain.rawBody.length / 4, `${url} compressed ${res.rawBody.length}`);
      }
    });
  }

  it('sends identity, still with Vary, to a client that accepts no encoding offered', async () => {
    const variants: Record<string, string>[] = [
      {},
      { 'accept-encoding': 'identity' },
      { 'accept-encoding': 'deflate, zstd' },
    ];
    for (const headers of variants) {
      const res = await inject(app, { url: '/text', headers });
      assert.equal(res.headers['content-encoding'], undefined);
      assert.equal(res.headers.vary, 'accept-encoding');
      assert.equal(res.body, BIG);
    }
  });

  it('leaves alone what is small, compressed already, encoded, no-transform or opted out', async () => {
    for (const url of ['/small', '/png', '/bytes', '/encoded', '/no-transform', '/secret?q=1']) {
      const res = await inject(app, { url, headers: { 'accept-encoding': 'br, gzip' } });
      assert.equal(res.status, 200, url);
      assert.notEqual(res.headers['content-encoding'], 'br', url);
      assert.equal(res.headers.vary, undefined, url);
      assert.equal(Number(res.headers['content-length']), res.rawBody.length, url);
    }
  });

  it('never compresses an event stream', async () => {
    const res = await inject(app, { url: '/events', headers: { 'accept-encoding': 'br' } });
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.ok(res.body.includes(BIG), `the event is sent as it is: ${res.body.slice(0, 80)}`);
  });

  it('answers 500, never a crash, when a compressed response has a header that cannot be sent', async () => {
    const small = await inject(app, { url: '/bad-small', headers: { 'accept-encoding': 'br' } });
    assert.equal(small.status, 500);
    assert.equal(small.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_INVALID_HEADER');
    // Past 64 KiB the body is compressed on the thread pool: the failure comes after send() returned.
    const huge = await inject(app, { url: '/bad-huge', headers: { 'accept-encoding': 'br' } });
    assert.equal(huge.status, 500);
    assert.equal(huge.headers['x-bad'], undefined);
    assert.equal(huge.headers.connection, 'close');
  });

  it('adds accept-encoding to a Vary the handler set', async () => {
    const res = await inject(app, { url: '/vary', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(res.headers.vary, 'Origin, accept-encoding');
    assert.equal(res.headers['content-encoding'], 'gzip');
  });

  it('answers HEAD with the GET headers (encoding, Vary) and no body', async () => {
    const res = await inject(app, { method: 'HEAD', url: '/text', headers: { 'accept-encoding': 'br' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'br');
    assert.equal(res.headers.vary, 'accept-encoding');
    assert.equal(res.rawBody.length, 0);
  });

  it('is off with compression: false, and follows thresholdBytes, encodings and levels', async () => {
    const off = quietApp({ compression: false });
    off.get('/', () => BIG);
    const res = await inject(off, { url: '/', headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(res.headers.vary, undefined);

    const tuned = quietApp({
      compression: { thresholdBytes: 100, encodings: ['gzip'], gzipLevel: 9, brotliQuality: 11 },
    });
    tuned.get('/', () => 'a'.repeat(100));
    tuned.get('/short', () => 'a'.repeat(99));
    const gz = await inject(tuned, { url: '/', headers: { 'accept-encoding': 'br, gzip' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(gz.rawBody).toString(), 'a'.repeat(100));
    const short = await inject(tuned, { url: '/short', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(short.headers['content-encoding'], undefined);
  });

  it('refuses bad options at construction', () => {
    const bad = [
      { thresholdBytes: -1 },
      { thresholdBytes: 1.5 },
      { brotliQuality: 12 },
      { gzipLevel: 0 },
      { encodings: ['zstd'] },
      { encodings: ['br', 'br'] },
      'on',
    ];
    for (const compression of bad) {
      assert.throws(
        () => new App({ logger: false, compression: compression as never }),
        { code: 'WEIR_ERR_INVALID_OPTION' },
        JSON.stringify(compression),
      );
    }
  });
});

describe('compression and ETags', () => {
  const app = quietApp();
  app.use(etag());
  app.get('/text', () => BIG);
  app.get('/own', (ctx) => {
    ctx.set('etag', '"v1"');
    return BIG;
  });
  app.get('/own-json', (ctx) => {
    ctx.set('etag', '"j1"');
    return { text: BIG };
  });
  app.get('/own-bytes', (ctx) => {
    ctx.set('etag', '"b1"');
    return Buffer.from(BIG);
  });

  it('gives each compressed variant its own ETag, and 304s only the variant named', async () => {
    const identity = await inject(app, { url: '/text' });
    const tag = String(identity.headers.etag);
    assert.match(tag, /^W\/".+"$/);
    const br = await inject(app, { url: '/text', headers: { 'accept-encoding': 'br' } });
    const gz = await inject(app, { url: '/text', headers: { 'accept-encoding': 'gzip' } });
    assert.equal(br.headers.etag, `${tag.slice(0, -1)}-br"`);
    assert.equal(gz.headers.etag, `${tag.slice(0, -1)}-gzip"`);

    const brAgain = await inject(app, {
      url: '/text',
      headers: { 'accept-encoding': 'br', 'if-none-match': String(br.headers.etag) },
    });
    assert.equal(brAgain.status, 304);
    assert.equal(brAgain.headers.etag, br.headers.etag);
    assert.equal(brAgain.headers.vary, 'accept-encoding');

    // The brotli tag does not revalidate the gzip variant, nor identity; identity's tag not brotli.
    for (const [encoding, inm] of [
      ['gzip', br.headers.etag],
      ['identity', br.headers.etag],
      ['br', tag],
    ] as const) {
      const res = await inject(app, {
        url: '/text',
        headers: { 'accept-encoding': encoding, 'if-none-match': String(inm) },
      });
      assert.equal(res.status, 200, `${encoding} with ${inm}`);
      assert.equal(decode(res.headers['content-encoding'], res.rawBody), BIG);
    }
    const identityAgain = await inject(app, { url: '/text', headers: { 'if-none-match': tag } });
    assert.equal(identityAgain.status, 304);
    assert.equal(identityAgain.headers.etag, tag);
    assert.equal(identityAgain.headers.vary, 'accept-encoding');
  });

  it("suffixes a handler's own strong ETag, and etag() revalidates it per variant", async () => {
    const br = await inject(app, { url: '/own', headers: { 'accept-encoding': 'br' } });
    assert.equal(br.headers.etag, '"v1-br"');
    const again = await inject(app, {
      url: '/own',
      headers: { 'accept-encoding': 'br', 'if-none-match': '"v1-br"' },
    });
    assert.equal(again.status, 304);
    const plain = await inject(app, { url: '/own', headers: { 'if-none-match': '"v1"' } });
    assert.equal(plain.status, 304);
    assert.equal(plain.headers.etag, '"v1"');
    // JSON compresses (its variant's tag answers); bytes (application/octet-stream) never do.
    const json = await inject(app, {
      url: '/own-json',
      headers: { 'accept-encoding': 'gzip', 'if-none-match': '"j1-gzip"' },
    });
    assert.equal(json.status, 304);
    const bytes = await inject(app, {
      url: '/own-bytes',
      headers: { 'accept-encoding': 'gzip', 'if-none-match': '"b1"' },
    });
    assert.equal(bytes.status, 304);
    assert.equal(bytes.headers.vary, undefined);
  });
});

describe('streamed responses', () => {
  // Without a flush per chunk the compressor would sit on the first line and this would time out.
  it('compresses a stream chunk by chunk: each chunk reaches the client before the next is made', {
    timeout: 10_000,
  }, async () => {
    const app = quietApp();
    const source = new PassThrough();
    app.get('/feed', () => stream(source, { type: 'application/x-ndjson' }));
    const handle = await serve(app);
    try {
      const received = await new Promise<string[]>((resolve, reject) => {
        const seen: string[] = [];
        const req = httpRequest(
          { host: '127.0.0.1', port: handle.port, path: '/feed', headers: { 'accept-encoding': 'gzip' } },
          (res) => {
            assert.equal(res.headers['content-encoding'], 'gzip');
            assert.equal(res.headers['content-length'], undefined);
            const gunzip = createGunzip();
            res.pipe(gunzip);
            let text = '';
            gunzip.on('data', (chunk: Buffer) => {
              text += chunk.toString();
              // The next line is written only once this one has arrived, decompressed.
              if (text.endsWith('\n')) {
                seen.push(text);
                text = '';
                if (seen.length < 3) source.write(`${JSON.stringify({ n: seen.length, pad: BIG })}\n`);
                else source.end();
              }
            });
            gunzip.on('end', () => resolve(seen));
            gunzip.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
        source.write(`${JSON.stringify({ n: 0, pad: BIG })}\n`);
      });
      assert.deepEqual(
        received.map((line) => JSON.parse(line).n),
        [0, 1, 2],
      );
    } finally {
      await handle.close();
    }
  });
});
