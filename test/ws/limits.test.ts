/**
 * The bounds of a socket: a client that never reads (memory bounded, then closed 1013), a handler
 * slower than its client (the connection stops being read), a peer that answers no ping (cut), and
 * the drain (1001 to every socket at once, without holding shutdown for its deadline).
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { App } from 'weir';
import type { WsSocket } from 'weir/ws';
import { serve } from '../helpers/http.ts';
import { open, rawUpgrade, recordWs, waitFor } from '../helpers/ws.ts';

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
});
