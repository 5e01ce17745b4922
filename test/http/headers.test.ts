import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { App, json, redirect, stream, text } from 'weir';
import { inject } from 'weir/testing';
import { request, serve } from '../helpers/http.ts';

/** A logger that keeps what it is given, to check what reaches the log. */
type Log = (obj: unknown, msg?: string) => void;
function capture(): { logger: { error: Log; warn: Log; info: Log; debug: Log }; lines: string[] } {
  const lines: string[] = [];
  const keep = (obj: unknown, msg?: string): void => {
    lines.push(
      `${msg ?? ''} ${JSON.stringify(obj, (_k, v) => (v instanceof Error ? { ...v, message: v.message, code: (v as NodeJS.ErrnoException).code, cause: v.cause } : v))}`,
    );
  };
  return { logger: { error: keep, warn: keep, info: keep, debug: keep }, lines };
}

describe('response headers from request data', () => {
  it('refuses __proto__ as a header name, the one name that a plain object would treat as special', async () => {
    const app = new App({ logger: false });
    app.get('/p', (ctx) => {
      ctx.set('__PROTO__', 'x');
      return 'unreachable';
    });
    app.get('/ok', (ctx) => {
      ctx.set('x-a', '1').set('constructor', '2').set('toString', '3');
      return 'ok';
    });
    const res = await inject(app, { url: '/p' });
    assert.equal(res.status, 500);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_INVALID_HEADER');
    const ok = await inject(app, { url: '/ok' });
    assert.deepEqual([ok.headers['x-a'], ok.headers.constructor, ok.headers.tostring], ['1', '2', '3']);
  });

  it('answers 500 WEIR_ERR_INVALID_HEADER when ctx.set gets CR/LF or a character above U+00FF, and keeps serving', async () => {
    const { logger, lines } = capture();
    const app = new App({ logger });
    app.get('/echo', (ctx) => {
      ctx.set('x-a', ctx.query.v ?? '');
      return 'ok';
    });
    const handle = await serve(app);
    try {
      for (const v of ['a%0Ab', 'a%0D%0ASet-Cookie:%20evil=1', '%E2%82%AC', 'nul%00byte']) {
        const res = await request(handle, { path: `/echo?v=${v}` });
        assert.equal(res.status, 500, v);
        const body = JSON.parse(res.body);
        assert.equal(body.error.code, 'WEIR_ERR_INVALID_HEADER');
        assert.equal(res.headers['x-a'], undefined);
        assert.equal(res.headers['set-cookie'], undefined);
        assert.doesNotMatch(res.body, /evil|€|byte/);
      }
      assert.equal((await request(handle, { path: '/echo?v=fine' })).headers['x-a'], 'fine');
      const logged = lines.join('\n');
      assert.match(logged, /x-a/);
      assert.doesNotMatch(logged, /evil|€|nul\\u0000byte/);
    } finally {
      await handle.close();
    }
  });

  it('refuses an invalid header name from ctx.set without repeating it', async () => {
    const app = new App({ logger: false });
    app.get('/name', (ctx) => {
      ctx.set(ctx.query.n ?? 'x', 'v');
      return 'ok';
    });
    const res = await inject(app, { url: '/name?n=bad%20name%0D%0A' });
    assert.equal(res.status, 500);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_INVALID_HEADER');
    assert.doesNotMatch(res.body, /bad name/);
  });

  it('answers 500 WEIR_ERR_INVALID_HEADER for helper responses, redirect() and web Responses built from request data', async () => {
    const { logger, lines } = capture();
    const app = new App({ logger });
    app.get('/json', (ctx) => json({ ok: true }, { headers: { 'x-b': ctx.query.v ?? '' } }));
    app.get('/text', (ctx) => text('t', { headers: { 'x-c': ctx.query.v ?? '' } }));
    app.get('/go', (ctx) => redirect(ctx.query.to ?? '/'));
    app.get('/with-set', (ctx) => {
      ctx.set('x-kept', 'yes');
      return json({}, { headers: { 'x-d': ctx.query.v ?? '' } });
    });
    const handle = await serve(app);
    try {
      for (const path of ['/json?v=%0A', '/text?v=%E2%82%AC', '/go?to=/a%0D%0Ab', '/with-set?v=%0D']) {
        const res = await request(handle, { path });
        assert.equal(res.status, 500, path);
        assert.equal(JSON.parse(res.body).error.code, 'WEIR_ERR_INVALID_HEADER', path);
      }
      // Valid handler-set headers stay on the error response.
      assert.equal((await request(handle, { path: '/with-set?v=%0D' })).headers['x-kept'], 'yes');
      assert.match(lines.join('\n'), /location/);
    } finally {
      await handle.close();
    }
  });

  it('destroys a stream whose response had a header that cannot be sent', async () => {
    let body: Readable | undefined;
    const app = new App({ logger: false });
    app.get('/s', (ctx) => {
      body = Readable.from(['a', 'b']);
      return stream(body, { headers: { 'x-e': ctx.query.v ?? '' } });
    });
    const res = await inject(app, { url: '/s?v=%0A' });
    assert.equal(res.status, 500);
    assert.equal(body?.destroyed, true);
  });

  it('ctx.status() refuses a code outside 100…599 with a 500 instead of throwing in writeHead', async () => {
    const app = new App({ logger: false });
    app.get('/s', (ctx) => {
      ctx.status(Number(ctx.query.code));
      return 'x';
    });
    assert.equal((await inject(app, { url: '/s?code=1000' })).status, 500);
    assert.equal((await inject(app, { url: '/s?code=201' })).status, 201);
  });

  it('survives 10,000 requests with random bytes in every place a handler copies into a header', async () => {
    // A seeded generator, so a failure can be replayed.
    let seed = 0x2545f491;
    const next = (): number => {
      seed ^= seed << 13;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      return (seed >>> 0) / 0x1_0000_0000;
    };
    const bytes = (n: number): Buffer =>
      Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)));
    const pct = (b: Buffer): string => [...b].map((x) => `%${x.toString(16).padStart(2, '0')}`).join('');
    // Header values a client can send: latin1 without control characters.
    const headerValue = (b: Buffer): string =>
      [...b].map((x) => (x < 0x20 || x === 0x7f ? 'x' : String.fromCharCode(x))).join('');

    const app = new App({ logger: false });
    app.post('/copy/:p', async (ctx) => {
      const body = await ctx.text();
      const kind = ctx.query.k;
      ctx.set('x-q', ctx.query.q ?? '');
      ctx.set('x-p', ctx.params.p);
      ctx.set('x-h', String(ctx.headers['x-in'] ?? ''));
      ctx.set('x-body', body);
      ctx.cookie('c', ctx.cookies.c ?? '');
      if (kind === 'redirect') return redirect(ctx.query.q ?? '/');
      if (kind === 'json') return json({}, { headers: { 'x-j': body, [ctx.query.q ?? 'x']: 'v' } });
      if (kind === 'web') return new Response('w', { headers: { 'x-w': ctx.query.q ?? '' } });
      return 'ok';
    });
    app.get('/health', () => 'up');
    const handle = await serve(app);
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const kinds = ['plain', 'redirect', 'json', 'web'];
    const statuses = new Map<number, number>();
    const one = (i: number): Promise<void> =>
      new Promise((resolve, reject) => {
        const q = pct(bytes(1 + Math.floor(next() * 12)));
        const p = pct(bytes(1 + Math.floor(next() * 8)));
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port: handle.port,
            method: 'POST',
            path: `/copy/${p}?k=${kinds[i % 4]}&q=${q}`,
            agent,
            headers: {
              'x-in': headerValue(bytes(8)),
              cookie: `c=${headerValue(bytes(6)).replace(/[;,]/g, '')}`,
              'content-type': 'text/plain',
            },
          },
          (res) => {
            statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
            res.resume();
            res.on('end', resolve);
          },
        );
        req.on('error', reject);
        req.end(bytes(Math.floor(next() * 16)));
      });
    try {
      let i = 0;
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (i < 10_000) await one(i++);
        }),
      );
      const total = [...statuses.values()].reduce((a, b) => a + b, 0);
      assert.equal(total, 10_000);
      for (const status of statuses.keys())
        assert.ok([200, 302, 400, 500].includes(status), `status ${status}`);
      assert.ok((statuses.get(500) ?? 0) > 0, 'the generator must produce unsendable headers');
      assert.equal((await request(handle, { path: '/health' })).body, 'up');
    } finally {
      agent.destroy();
      await handle.close();
    }
  });
});
