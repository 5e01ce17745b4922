/**
 * The bounds of a socket: a client that never reads (memory bounded, then closed 1013), a handler
 * slower than its client (the connection stops being read), a peer that answers no ping (cut), and
 * the drain (1001 to every socket at once, without holding shutdown for its deadline), and overload (no
 * new socket while the limiter sheds).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { App } from 'weir';
import type { WsSocket } from 'weir/ws';
import { pressure } from '../../src/internal/pressure.ts';
import { request, serve } from '../helpers/http.ts';
import { open, rawUpgrade, recordWs, refusal, waitFor } from '../helpers/ws.ts';

const handles: { close(o?: { timeoutMs: number }): Promise<void> }[] = [];
after(() => Promise.all(handles.map((h) => h.close({ timeoutMs: 1000 }))));

describe('WebSocket limits', () => {
  it('a client that never reads costs at most maxBufferedBytes plus one message, then is closed 1013 and cut', async () => {
    const record = recordWs();
    const maxBufferedBytes = 256 * 1024;
    const chunk = 'x'.repeat(16 * 1024);
    let peak = 0;
    let sent = 0;
    let refusedAt = -1;
    const app = new App({ logger: false });
    app.ws('/flood', { maxBufferedBytes, closeTimeoutMs: 200 }, async (socket) => {
      // Bounded: 10,000 × 16 KiB is far more than any kernel buffers hold.
      for (let i = 0; i < 10_000; i++) {
        if (!socket.send(chunk)) {
          refusedAt = i;
          return;
        }
        sent++;
        peak = Math.max(peak, socket.bufferedBytes);
        if (i % 64 === 63) await new Promise((r) => setImmediate(r));
      }
    });
    const handle = await serve(app);
    handles.push(handle);
    const raw = await rawUpgrade(handle.port, '/flood');
    await waitFor(() => record.events.some((e) => e.type === 'close'), 'the socket to close', 10_000);
    record.stop();
    assert.ok(refusedAt > 0, `send() returned false once the socket closed (sent ${sent})`);
    assert.ok(peak <= maxBufferedBytes + chunk.length + 16, `peak buffered ${peak} bytes`);
    assert.ok(peak > maxBufferedBytes, `the bound was reached: peak ${peak}`);
    assert.deepEqual(
      record.events.map((e) => [e.type, e.reason]),
      [
        ['open', undefined],
        ['close', 'slow'],
      ],
    );
    // The client never read the close frame: the connection was cut (reading now finds its end).
    raw.resume();
    await new Promise((r) => raw.once('close', r));
  });

  it('a handler slower than its client stops the connection being read (maxQueuedMessages), and loses nothing', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const app = new App({ logger: false });
    app.ws('/sink', { maxQueuedMessages: 4 }, async (socket) => {
      await gate;
      let count = 0;
      let bytes = 0;
      for await (const message of socket) {
        count++;
        bytes += message.length;
        if (count === 200) break;
      }
      socket.send(`${count} ${bytes}`);
    });
    const handle = await serve(app);
    handles.push(handle);
    const client = await open(`${handle.url.replace('http', 'ws')}/sink`);
    const message = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 200; i++) client.ws.send(message);
    // 12.5 MiB: more than the loopback's buffers take once the server stops reading.
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(client.ws.bufferedAmount > 0, 'the client is held back: the server stopped reading');
    release();
    await client.until(1);
    assert.deepEqual(client.messages, [`200 ${200 * 64 * 1024}`]);
    assert.equal(client.ws.bufferedAmount, 0);
    client.ws.close(1000);
  });

  it('cuts a peer that answers no ping within pingIntervalMs, and keeps one that does', async () => {
    const record = recordWs();
    const app = new App({ logger: false });
    app.ws('/ping', { pingIntervalMs: 50 }, () => {});
    const handle = await serve(app);
    handles.push(handle);
    const live = await open(`${handle.url.replace('http', 'ws')}/ping`);
    const raw = await rawUpgrade(handle.port, '/ping');
    const closes = () => record.events.filter((e) => e.type === 'close' && e.path === '/ping');
    await waitFor(() => closes().length > 0, 'the silent peer to be cut');
    raw.resume();
    await new Promise((r) => raw.once('close', r));
    await new Promise((r) => setTimeout(r, 200));
    record.stop();
    assert.equal(live.ws.readyState, live.ws.OPEN, 'the peer that answers pings is still open');
    assert.deepEqual(
      closes().map((e) => [e.code, e.reason]),
      [[1006, 'dead']],
    );
    live.ws.close(1000);
  });

  it("an open socket outlives the server's request, header and keep-alive timeouts", async () => {
    const app = new App({ logger: false });
    app.ws('/long', () => {});
    const handle = await app.listen({
      port: 0,
      signals: false,
      requestTimeoutMs: 200,
      headersTimeoutMs: 100,
      keepAliveTimeoutMs: 100,
    });
    handles.push(handle);
    const client = await open(`${handle.url.replace('http', 'ws')}/long`);
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal(client.ws.readyState, client.ws.OPEN, 'still open after six request timeouts');
    client.ws.close(1000);
    assert.equal((await client.closed()).code, 1000);
  });

  it('a drain closes every socket with 1001 at once, even one that never answers, without waiting for its deadline', async () => {
    const sockets = new Set<WsSocket>();
    const app = new App({ logger: false });
    app.ws('/live', { closeTimeoutMs: 300 }, async (socket) => {
      sockets.add(socket);
      socket.signal.addEventListener('abort', () => sockets.delete(socket));
    });
    const handle = await serve(app);
    const url = `${handle.url.replace('http', 'ws')}/live`;
    const clients = await Promise.all([open(url), open(url), open(url)]);
    const raw = await rawUpgrade(handle.port, '/live');
    await waitFor(() => sockets.size === 4, 'four sockets');
    const started = Date.now();
    await handle.close({ timeoutMs: 10_000 });
    const took = Date.now() - started;
    assert.ok(took < 2000, `shutdown took ${took} ms`);
    for (const client of clients) {
      assert.deepEqual(await client.closed(), { code: 1001, reason: 'The server is shutting down' });
    }
    raw.resume();
    await new Promise((r) => raw.once('close', r));
    await waitFor(() => sockets.size === 0, 'every socket signal to abort', 1000);
  });
  it('while the overload limiter sheds, a new socket gets its 503 and Retry-After (no middleware run); open ones stay, and new ones are let in once it is calm', async () => {
    const app = new App({
      logger: false,
      overload: { minLimit: 1, maxLimit: 1, initialLimit: 1, maxQueue: 0, queueTimeoutMs: 300 },
    });
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let holding = 0;
    app.get('/hold', async () => {
      holding++;
      await held;
      return 'held';
    });
    app.get('/other', () => 'other');
    let middlewareRan = 0;
    app.ws(
      '/live',
      async (_ctx, next) => {
        middlewareRan++;
        await next();
      },
      (socket) => socket.send('hi'),
    );
    const handle = await serve(app);
    handles.push(handle);
    const url = `ws://127.0.0.1:${handle.port}/live`;
    const before = await open(url);
    await before.until(1);
    assert.equal(middlewareRan, 1);

    // The only slot held, a second request is shed: the limiter sheds.
    const held1 = request(handle, { path: '/hold' });
    await waitFor(() => holding === 1, 'the holding request to run');
    assert.equal((await request(handle, { path: '/other' })).status, 503);
    const shedAt = Date.now();
    assert.equal(pressure.raised, true);

    const refused = await refusal(url);
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error.code, 'WEIR_ERR_OVERLOADED');
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(middlewareRan, 1, 'no middleware ran for the refused upgrade');
    assert.equal(app.overloadStats()!.shed.byReason.shedding, 1, 'counted as shed while shedding');
    assert.equal(before.ws.readyState, before.ws.OPEN, 'the socket opened before stays open');

    release();
    assert.equal((await held1).status, 200);
    // A client retrying every 50 ms is refused until the limiter calms (a second after its last shed of a
    // request), and its own refusals do not keep it shedding. Bounded: 100 attempts.
    let afterwards: Awaited<ReturnType<typeof open>> | undefined;
    let retries = 0;
    for (let i = 0; i < 100 && afterwards === undefined; i++) {
      try {
        afterwards = await open(url);
      } catch (err) {
        assert.equal((err as { status?: number }).status, 503);
        retries++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert.ok(afterwards !== undefined, `let in again (after ${retries} refusals)`);
    const calmAfter = Date.now() - shedAt;
    assert.ok(retries >= 3, `refused while shedding: ${retries}`);
    assert.ok(calmAfter < 3000, `calm ${calmAfter} ms after the last shed request, despite the retries`);
    assert.equal(app.overloadStats()!.shed.byReason.shedding, 1 + retries);
    await afterwards.until(1);
    assert.equal(middlewareRan, 2);
    before.ws.close(1000);
    afterwards.ws.close(1000);
  });
});
