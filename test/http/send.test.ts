import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { App, html, json, type Middleware, redirect, serveStatic, stream, text } from 'weir';
import { inject } from 'weir/testing';
import { raw, request, serve } from '../helpers/http.ts';

function appWith(handler: () => unknown): App {
  const app = new App({ logger: false });
  app.get('/', handler);
  return app;
}

describe('return value mapping', () => {
  it('sends a string as text/plain with Content-Length, Date and Server', async () => {
    const res = await inject(
      appWith(() => 'héllo'),
      {},
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(res.headers['content-length'], '6');
    assert.equal(res.headers.server, 'weir');
    assert.match(String(res.headers.date), /^\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    assert.equal(res.body, 'héllo');
  });

  it('sends objects and arrays as application/json', async () => {
    const obj = await inject(
      appWith(() => ({ a: 1, b: [true, null] })),
      {},
    );
    assert.equal(obj.headers['content-type'], 'application/json');
    assert.deepEqual(obj.json(), { a: 1, b: [true, null] });
    const arr = await inject(
      appWith(() => [1, 2]),
      {},
    );
    assert.deepEqual(arr.json(), [1, 2]);
    const num = await inject(
      appWith(() => 42),
      {},
    );
    assert.equal(num.body, '42');
    const nil = await inject(
      appWith(() => null),
      {},
    );
    assert.equal(nil.body, 'null');
  });

  it('sends bytes as application/octet-stream', async () => {
    const res = await inject(
      appWith(() => new Uint8Array([1, 2, 3])),
      {},
    );
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.deepEqual([...res.rawBody], [1, 2, 3]);
    const buf = await inject(
      appWith(() => Buffer.from('ab')),
      {},
    );
    assert.equal(buf.headers['content-length'], '2');
  });

  it('answers undefined with 204 and no body', async () => {
    const res = await inject(
      appWith(() => undefined),
      {},
    );
    assert.equal(res.status, 204);
    assert.equal(res.headers['content-length'], undefined);
    assert.equal(res.body, '');
  });

  it('streams a Node Readable and a web ReadableStream', async () => {
    const node = await inject(
      appWith(() => Readable.from(['a', 'b', 'c'])),
      {},
    );
    assert.equal(node.body, 'abc');
    assert.equal(node.headers['transfer-encoding'], 'chunked');
    const web = await inject(
      appWith(
        () =>
          new ReadableStream({
            start(c) {
              c.enqueue(new TextEncoder().encode('web'));
              c.close();
            },
          }),
      ),
      {},
    );
    assert.equal(web.body, 'web');
  });

  it('sends weir response helpers with their status and headers', async () => {
    const j = await inject(
      appWith(() => json({ ok: true }, { status: 201, headers: { 'X-Id': '7' } })),
      {},
    );
    assert.equal(j.status, 201);
    assert.equal(j.headers['x-id'], '7');
    assert.deepEqual(j.json(), { ok: true });
    const t = await inject(
      appWith(() => text('plain', 202)),
      {},
    );
    assert.equal(t.status, 202);
    assert.equal(t.headers['content-type'], 'text/plain; charset=utf-8');
    const h = await inject(
      appWith(() => html('<p>hi</p>')),
      {},
    );
    assert.equal(h.headers['content-type'], 'text/html; charset=utf-8');
    const r = await inject(
      appWith(() => redirect('/elsewhere', 301)),
      {},
    );
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, '/elsewhere');
    const s = await inject(
      appWith(() => stream(Readable.from(['x']), { type: 'text/csv' })),
      {},
    );
    assert.equal(s.headers['content-type'], 'text/csv');
    assert.equal(s.body, 'x');
  });

  it('sends a web Response with its status, headers, cookies and body', async () => {
    const res = await inject(
      appWith(() => {
        const headers = new Headers({ 'content-type': 'text/x-web' });
        headers.append('set-cookie', 'a=1');
        headers.append('set-cookie', 'b=2');
        return new Response('from fetch', { status: 203, headers });
      }),
      {},
    );
    assert.equal(res.status, 203);
    assert.equal(res.headers['content-type'], 'text/x-web');
    assert.deepEqual(res.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(res.body, 'from fetch');
  });

  it('applies ctx.status() and ctx.set() to plain values', async () => {
    const app = new App({ logger: false });
    app.post('/', (ctx) => {
      ctx.status(201).set('Location', '/things/1').set('content-type', 'text/x-custom');
      return 'created';
    });
    const res = await inject(app, { method: 'POST', url: '/' });
    assert.equal(res.status, 201);
    assert.equal(res.headers.location, '/things/1');
    assert.equal(res.headers['content-type'], 'text/x-custom');
  });

  it('answers 500 when the value cannot be serialised, without leaking details', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const res = await inject(
      appWith(() => circular),
      {},
    );
    assert.equal(res.status, 500);
    // The body names the request (its id, echoed in the header), nothing of the failure.
    const requestId = res.headers['x-request-id'];
    assert.match(String(requestId), /^[0-9a-f]{16}-[0-9a-z]+$/);
    assert.deepEqual(res.json(), {
      error: { code: 'WEIR_ERR_INTERNAL', message: 'Internal Server Error', requestId },
    });
  });

  it('cuts the connection, logged, when a stream fails to start after its status line went out, instead of leaving it open', async () => {
    const errors: unknown[] = [];
    const quiet = (): void => {};
    const app = new App({
      logger: { error: (o: unknown) => errors.push(o), warn: quiet, info: quiet, debug: quiet },
    });
    app.get('/locked', () => {
      const body = new ReadableStream<Uint8Array>({ start: (c) => c.close() });
      body.getReader(); // a stream someone else is reading cannot be piped
      return body;
    });
    app.get('/ok', () => 'ok');
    const handle = await serve(app);
    try {
      const started = performance.now();
      const response = await raw(handle.port, 'GET /locked HTTP/1.1\r\nHost: x\r\n\r\n', { timeoutMs: 3000 });
      assert.ok(performance.now() - started < 2000, 'the connection was left open');
      // The head was written but may not have reached the socket: the client sees nothing, or a cut body.
      assert.doesNotMatch(response, /HTTP\/1\.1 [45]\d\d /);
      assert.doesNotMatch(response, /\r\n0\r\n\r\n$/, 'a cut chunked body has no last chunk');
      assert.equal(errors.length, 1);
      assert.equal((await request(handle, { path: '/ok' })).body, 'ok');
    } finally {
      await handle.close();
    }
  });
});

describe('bodies that will not be sent are released', () => {
  const openDescriptors = (): number => readdirSync('/proc/self/fd').length;
  const root = fileURLToPath(new URL('../../examples/service/public', import.meta.url));

  it('closes the file serveStatic opened after a route timeout already answered: no descriptor left open', async () => {
    const finished = { count: 0 };
    const app = new App({ logger: false });
    const slow: Middleware = async (_ctx, next) => {
      await sleep(40);
      await next();
      finished.count++;
    };
    app.get('/static/*', { timeoutMs: 5 }, slow, serveStatic(root));
    const handle = await serve(app);
    try {
      const before = openDescriptors();
      const statuses = await Promise.all(
        Array.from({ length: 200 }, () =>
          request(handle, { path: '/static/hello.txt' }).then((r) => r.status),
        ),
      );
      assert.deepEqual(new Set(statuses), new Set([503]));
      while (finished.count < 200) await sleep(10);
      await sleep(50);
      assert.ok(openDescriptors() - before < 20, `${openDescriptors() - before} descriptors left open`);
    } finally {
      await handle.close();
    }
  });

  it('closes the file when the client left during a slow middleware, and destroys a returned stream', async () => {
    const streams: Readable[] = [];
    let finished = 0;
    // Every request must reach its middleware: with the overload limiter on, those still waiting for a
    // slot when their client leaves are dropped before they run (test/overload covers that).
    const app = new App({ logger: false, overload: false });
    const waitForClient: Middleware = async (ctx, next) => {
      await new Promise((resolve) => ctx.res.once('close', resolve));
      await next();
      finished++;
    };
    app.get('/static/*', waitForClient, serveStatic(root));
    app.get('/stream', waitForClient, () => {
      const s = Readable.from(['never', 'sent']);
      streams.push(s);
      return s;
    });
    const handle = await serve(app);
    try {
      const before = openDescriptors();
      const leave = (path: string): Promise<void> =>
        new Promise((resolve) => {
          const socket = connect(handle.port, '127.0.0.1', () => {
            socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
            setTimeout(() => {
              socket.destroy();
              resolve();
            }, 20);
          });
        });
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => leave(i % 2 ? '/stream' : '/static/hello.txt')),
      );
      while (finished < 100) await sleep(10);
      await sleep(50);
      assert.ok(openDescriptors() - before < 20, `${openDescriptors() - before} descriptors left open`);
      assert.equal(streams.length, 50);
      assert.ok(streams.every((s) => s.destroyed));
    } finally {
      await handle.close();
    }
  });
});
