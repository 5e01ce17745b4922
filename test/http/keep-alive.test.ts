import assert from 'node:assert/strict';
import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { App, type ServerHandle } from 'weir';
import { keptAlive, serve } from '../helpers/http.ts';

/** Node keeps an idle connection this much longer than the Keep-Alive header says. */
const MARGIN_MS = 1000;

function listen(app: App<object>, keepAliveTimeoutMs?: number): Promise<ServerHandle> {
  return app.listen({ port: 0, host: '127.0.0.1', signals: false, keepAliveTimeoutMs });
}

describe('idle keep-alive connections', () => {
  it('are closed once idle for keepAliveTimeoutMs and the 1 s margin, not before', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    const handle = await listen(app, 500);
    try {
      const started = performance.now();
      const conns = await Promise.all([1, 2, 3].map(() => keptAlive(handle.port)));
      const answered = performance.now();
      await Promise.all(conns.map((c) => c.next()));
      for (const c of conns) {
        const closedAt = c.closedAt()!;
        // The server finished each answer before `answered`, after `started`.
        assert.ok(closedAt - answered >= 500 + MARGIN_MS - 20, `closed after ${closedAt - answered} ms idle`);
        assert.ok(closedAt - started < 500 + MARGIN_MS + 3000, `closed ${closedAt - started} ms after`);
      }
    } finally {
      await handle.close();
    }
  });

  it('advertise the time in Keep-Alive: timeout=65 by default, timeout=3 for keepAliveTimeoutMs 3000', async () => {
    for (const [ms, seconds] of [
      [undefined, 65],
      [3000, 3],
    ] as const) {
      const app = new App({ logger: false });
      app.get('/', () => 'ok');
      const handle = await listen(app, ms);
      try {
        const conn = await keptAlive(handle.port);
        conn.socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
        const head = await conn.next();
        assert.match(head, /\r\nconnection: keep-alive\r\n/i);
        assert.match(head, new RegExp(`\\r\\nkeep-alive: timeout=${seconds}\\r\\n`, 'i'));
        conn.socket.destroy();
      } finally {
        await handle.close();
      }
    }
  });

  it('stay open while they are used: a request every 300 ms for 3 s on keepAliveTimeoutMs 200', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    const handle = await listen(app, 200);
    try {
      const conn = await keptAlive(handle.port);
      for (let i = 0; i < 10; i++) {
        await sleep(300);
        conn.socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
        assert.match(await conn.next(), /^HTTP\/1\.1 200/, `request ${i + 2} on the same connection`);
      }
      assert.equal(conn.closedAt(), undefined);
      conn.socket.destroy();
    } finally {
      await handle.close();
    }
  });

  it('stay open while a request runs past the timeout, and are timed from its answer', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    app.get('/slow', async () => {
      await sleep(2000);
      return 'slow';
    });
    const handle = await listen(app, 200);
    try {
      const conn = await keptAlive(handle.port);
      conn.socket.write('GET /slow HTTP/1.1\r\nhost: x\r\n\r\n');
      assert.match(await conn.next(), /^HTTP\/1\.1 200[\s\S]*\r\n\r\nslow$/);
      const answered = performance.now();
      assert.equal(await conn.next(), '');
      const idle = conn.closedAt()! - answered;
      assert.ok(
        idle >= 200 + MARGIN_MS - 20 && idle < 200 + MARGIN_MS + 3000,
        `closed after ${idle} ms idle`,
      );
    } finally {
      await handle.close();
    }
  });

  it('stay open while the body of a request answered early is still arriving', async () => {
    const app = new App({ logger: false });
    // Answers without reading the body; Node then reads and drops the rest.
    app.post('/', () => 'early');
    const handle = await listen(app, 200);
    try {
      const socket = connect(handle.port, '127.0.0.1');
      await once(socket, 'connect');
      let received = '';
      let closedAt: number | undefined;
      socket.on('data', (c: Buffer) => {
        received += c.toString('latin1');
      });
      socket.on('close', () => {
        closedAt = performance.now();
      });
      socket.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 20\r\n\r\n');
      // 20 bytes, one every 100 ms: 2 s, longer than the 1.2 s an idle connection is kept.
      for (let i = 0; i < 20; i++) {
        await sleep(100);
        assert.equal(closedAt, undefined, `closed while byte ${i + 1} of the body was on its way`);
        socket.write('x');
      }
      const sent = performance.now();
      assert.match(received, /^HTTP\/1\.1 200[\s\S]*\r\n\r\nearly$/);
      await once(socket, 'close');
      const idle = closedAt! - sent;
      assert.ok(idle >= 200 + MARGIN_MS - 120 && idle < 200 + MARGIN_MS + 3000, `closed after ${idle} ms`);
    } finally {
      await handle.close();
    }
  });

  it('stay open while the head of a next request arrives slowly, left to the headers timeout', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    const handle = await app.listen({
      port: 0,
      host: '127.0.0.1',
      signals: false,
      keepAliveTimeoutMs: 200,
      headersTimeoutMs: 10_000,
    });
    try {
      const conn = await keptAlive(handle.port);
      // One byte every 100 ms for 2.4 s: longer than the 1.2 s an idle connection is kept.
      const head = 'GET / HTTP/1.1\r\nhost: x\r\n\r\n';
      for (const byte of head) {
        await sleep(100);
        assert.equal(conn.closedAt(), undefined, 'closed while the next head was arriving');
        conn.socket.write(byte);
      }
      assert.match(await conn.next(), /^HTTP\/1\.1 200/);
      conn.socket.destroy();
    } finally {
      await handle.close();
    }
  });

  it('are timed without a timer per request', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    const handle = await serve(app);
    let timeouts = 0;
    const hook = createHook({
      init(_id, type) {
        if (type === 'Timeout') timeouts++;
      },
    });
    try {
      const conn = await keptAlive(handle.port);
      hook.enable();
      for (let i = 0; i < 300; i++) {
        conn.socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
        assert.match(await conn.next(), /^HTTP\/1\.1 200/);
      }
      hook.disable();
      // Node's own keep-alive timeout made one per answer (a timer armed as each response finished).
      assert.ok(timeouts < 10, `${timeouts} timers for 300 requests`);
      conn.socket.destroy();
    } finally {
      hook.disable();
      await handle.close();
    }
  });

  it('do not include upgraded sockets: a WebSocket outlives the keep-alive timeout', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    app.ws('/live', () => {});
    const handle = await listen(app, 100);
    try {
      // One answer first, so the socket has a finished response when it upgrades.
      const conn = await keptAlive(handle.port);
      conn.socket.write(
        'GET /live HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\n' +
          'sec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
      let head = '';
      conn.socket.on('data', (c: Buffer) => {
        head += c.toString('latin1');
      });
      await sleep(100 + MARGIN_MS + 1000);
      assert.match(head, /^HTTP\/1\.1 101 /);
      assert.equal(conn.closedAt(), undefined, 'the upgraded socket is still open');
      conn.socket.destroy();
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });
});
