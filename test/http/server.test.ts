import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { App, HttpError } from 'weir';
import { deferred, keptAlive, raw, request, serve } from '../helpers/http.ts';
import { spawnTs } from '../helpers/process.ts';

function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

describe('server', () => {
  it('applies the safe defaults: keep-alive 65 s, headers 30 s, request 60 s', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'x');
    const handle = await serve(app);
    try {
      // weir times idle connections itself (Node's own timer is off, 0): the Keep-Alive header says how long.
      assert.equal(handle.server.keepAliveTimeout, 0);
      const conn = await keptAlive(handle.port);
      assert.match(conn.first, /\r\nkeep-alive: timeout=65\r\n/i);
      conn.socket.destroy();
      assert.equal(handle.server.headersTimeout, 30_000);
      assert.equal(handle.server.requestTimeout, 60_000);
      assert.match(handle.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await handle.close();
    }
  });

  it('answers 431 with a JSON body when the request head is too large', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'x');
    const handle = await app.listen({ port: 0, signals: false, maxHeaderSizeBytes: 1024 });
    try {
      const response = await raw(
        handle.port,
        `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(4096)}\r\n\r\n`,
      );
      assert.match(response, /^HTTP\/1\.1 431 /);
      assert.match(response, /"code":"WEIR_ERR_HEADERS_TOO_LARGE"/);
    } finally {
      await handle.close();
    }
  });

  it('answers 400 with a JSON body to a request that is not HTTP', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'x');
    const handle = await serve(app);
    try {
      const response = await raw(handle.port, 'HELLO THERE\r\n\r\n');
      assert.match(response, /^HTTP\/1\.1 400 /);
      assert.match(response, /"code":"WEIR_ERR_BAD_REQUEST"/);
    } finally {
      await handle.close();
    }
  });

  it('refuses to listen on a taken port with WEIR_ERR_LISTEN naming the address', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'x');
    const first = await serve(app);
    try {
      const other = new App({ logger: false });
      await assert.rejects(
        other.listen({ port: first.port, signals: false }),
        (err: Error & { code: string }) => {
          assert.equal(err.code, 'WEIR_ERR_LISTEN');
          assert.match(
            err.message,
            new RegExp(`127\\.0\\.0\\.1:${first.port}: the address is already in use`),
          );
          return true;
        },
      );
    } finally {
      await first.close();
    }
  });

  it('aborts ctx.signal when the client disconnects mid-request', async () => {
    const aborted = deferred<unknown>();
    const started = deferred();
    const app = new App({ logger: false });
    app.get('/wait', (ctx) => {
      ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason));
      started.resolve();
      return new Promise(() => {});
    });
    const handle = await serve(app);
    try {
      const socket = connect(handle.port, '127.0.0.1');
      socket.write('GET /wait HTTP/1.1\r\nHost: x\r\n\r\n');
      await started.promise;
      socket.destroy();
      const reason = (await aborted.promise) as DOMException;
      assert.equal(reason.name, 'AbortError');
    } finally {
      await handle.close({ timeoutMs: 100 });
    }
  });

  it('answers 503 when a route timeout passes, and aborts the handler’s signal', async () => {
    const aborted = deferred<unknown>();
    const app = new App({ logger: false });
    app.get('/slow', { timeoutMs: 50 }, (ctx) => {
      ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason));
      return new Promise(() => {});
    });
    app.get('/fast', { timeoutMs: 1000 }, () => 'fast');
    const handle = await serve(app);
    try {
      const res = await request(handle, { path: '/slow' });
      assert.equal(res.status, 503);
      assert.equal(JSON.parse(res.body).error.code, 'WEIR_ERR_REQUEST_TIMEOUT');
      assert.equal(((await aborted.promise) as HttpError).code, 'WEIR_ERR_REQUEST_TIMEOUT');
      assert.equal((await request(handle, { path: '/fast' })).body, 'fast');
    } finally {
      await handle.close();
    }
  });

  it('runs admission before routing: a shed request never reaches the handler', async () => {
    let inFlight = 0;
    let handled = 0;
    const released = deferred();
    const app = new App({ logger: false });
    app.admission({
      admit: () => {
        if (inFlight >= 1) return HttpError.unavailable('Busy, try again', 1, 'WEIR_ERR_OVERLOADED');
        inFlight++;
        return () => {
          inFlight--;
          released.resolve();
        };
      },
    });
    const gate = deferred();
    app.get('/', async () => {
      handled++;
      await gate.promise;
      return 'served';
    });
    const handle = await serve(app);
    try {
      const first = request(handle, { path: '/' });
      while (handled === 0) await new Promise((r) => setTimeout(r, 5));
      const shed = await request(handle, { path: '/' });
      assert.equal(shed.status, 503);
      assert.equal(shed.headers['retry-after'], '1');
      assert.equal(JSON.parse(shed.body).error.code, 'WEIR_ERR_OVERLOADED');
      gate.resolve();
      assert.equal((await first).body, 'served');
      await released.promise;
      assert.equal(inFlight, 0);
      assert.equal(handled, 1);
    } finally {
      await handle.close();
    }
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight request finish, closes idle keep-alive connections, refuses new ones, runs onStop', async () => {
    const started = deferred();
    const gate = deferred();
    const stops: string[] = [];
    const app = new App({ logger: false });
    app.get('/slow', async () => {
      started.resolve();
      await gate.promise;
      return 'finished';
    });
    app.get('/quick', () => 'quick');
    app.onStop(() => void stops.push('db'));
    app.onStop(() => void stops.push('cache'));
    const handle = await serve(app);

    // An idle keep-alive connection: one request done, socket kept open by the agent.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const idleSocketClosed = deferred();
    await new Promise<void>((resolve, reject) => {
      httpRequest({ host: '127.0.0.1', port: handle.port, path: '/quick', agent }, (res) => {
        res.resume();
        res.on('end', resolve);
        res.socket.once('close', () => idleSocketClosed.resolve());
      })
        .on('error', reject)
        .end();
    });

    const slow = new Promise<{ status: number; body: string; connection: string | undefined }>(
      (resolve, reject) => {
        httpRequest(
          { host: '127.0.0.1', port: handle.port, path: '/slow', agent: new Agent({ keepAlive: true }) },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => {
              body += c.toString();
            });
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }),
            );
          },
        )
          .on('error', reject)
          .end();
      },
    );
    await started.promise;

    const closing = handle.close({ timeoutMs: 5000 });
    await idleSocketClosed.promise;
    assert.equal(await connectionRefused(handle.port), true);
    gate.resolve();
    const res = await slow;
    assert.equal(res.status, 200);
    assert.equal(res.body, 'finished');
    assert.equal(res.connection, 'close');
    await closing;
    assert.deepEqual(stops, ['cache', 'db']);
    agent.destroy();
  });

  it('answers requests still running at the deadline with 503 WEIR_ERR_SHUTTING_DOWN, and aborts their signal', async () => {
    const aborted = deferred<unknown>();
    const started = deferred();
    const app = new App({ logger: false });
    app.get('/stuck', (ctx) => {
      ctx.signal.addEventListener('abort', () => aborted.resolve(ctx.signal.reason));
      started.resolve();
      return new Promise(() => {});
    });
    const handle = await serve(app);
    const pending = request(handle, { path: '/stuck' });
    await started.promise;
    await handle.close({ timeoutMs: 100 });
    assert.equal(((await aborted.promise) as { code?: string }).code, 'WEIR_ERR_SHUTTING_DOWN');
    const response = await pending;
    assert.equal(response.status, 503);
    assert.equal(response.headers.connection, 'close');
    assert.equal(JSON.parse(response.body).error.code, 'WEIR_ERR_SHUTTING_DOWN');
  });

  it('on SIGTERM finishes the in-flight request, runs onStop and exits 0', async () => {
    const server = spawnTs(new URL('../fixtures/slow-server.ts', import.meta.url));
    try {
      const [, port] = await server.waitFor(/port (\d+)/);
      const slow = request({ port: Number(port) }, { path: '/slow?ms=400' });
      await server.waitFor(/started/);
      server.child.kill('SIGTERM');
      const res = await slow;
      assert.equal(res.status, 200);
      assert.equal(res.body, 'slow done');
      assert.equal(await server.exited(), 0);
      assert.match(server.output(), /stopped/);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  });
});
