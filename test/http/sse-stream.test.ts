/**
 * An SSE stream over time (src/http/sse-stream.ts): backpressure and slow clients, heartbeats, timeouts,
 * the overload limiter, shutdown, failing sources. Framing and the response itself: sse.test.ts.
 */
import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { App, type SseStream, sse } from 'weir';
import { inject } from 'weir/testing';
import { deferred, serve } from '../helpers/http.ts';
import { captureLog, neverReading, openStream, parseEvents, settled, withServer } from '../helpers/sse.ts';

describe('an SSE stream', () => {
  it('sends a comment line while idle, every heartbeatMs', async () => {
    const app = new App({ logger: false });
    app.get('/events', (ctx) => sse(ctx, () => {}, { heartbeatMs: 20 }));
    await withServer(app, async (handle) => {
      const reader = await openStream(handle.port, '/events');
      await reader.until(() => parseEvents(reader.text).comments >= 3, 'three heartbeats');
      assert.match(reader.text, /^(:\n\n)+$/);
      assert.equal(reader.outcome, 'open');
      reader.close();
    });
  });

  it('pulls an async iterable only as the client reads, and calls return() when the client leaves', async () => {
    const app = new App({ logger: false });
    const chunk = 'x'.repeat(64 * 1024);
    const total = 2000; // 128 MiB, far past any socket buffer
    let pulled = 0;
    const returned = deferred();
    async function* events() {
      try {
        for (let i = 0; i < total; i++) {
          pulled++;
          yield { id: String(i), data: chunk };
        }
      } finally {
        returned.resolve();
      }
    }
    app.get('/events', (ctx) => sse(ctx, events()));
    await withServer(app, async (handle) => {
      const socket = await neverReading(handle.port, '/events');
      const stalled = await settled(() => pulled);
      assert.ok(stalled > 0 && stalled < 400, `pulled ${stalled} of ${total} while the client read nothing`);
      socket.resume();
      for (let i = 0; i < 400 && pulled < stalled + 100; i++) await sleep(10);
      assert.ok(pulled >= stalled + 100, 'pulling resumes once the client reads');
      socket.destroy();
      await returned.promise;
      assert.ok(pulled < total);
    });
  });

  it('drops a push client that never reads once maxBufferedBytes is exceeded, and keeps one that reads', async () => {
    const { logger, lines } = captureLog();
    const app = new App({ logger });
    const maxBufferedBytes = 1024 * 1024;
    const event = 'y'.repeat(64 * 1024);
    const offered = 800 * event.length; // ~50 MB
    type Outcome = { stream: SseStream; sent: number; maxBuffered: number; destroyed: boolean };
    const outcomes = new Map<string, Outcome>();
    const both = deferred();
    const records: { type: string; reason?: string }[] = [];
    const record = (message: unknown) => records.push(message as { type: string; reason?: string });
    subscribe('weir:http.sse', record);
    app.get('/events', (ctx) =>
      sse(
        ctx,
        async (stream) => {
          let sent = 0;
          let maxBuffered = 0;
          // A tick every 4 events (256 KiB) lets the socket hand what it holds to the kernel.
          for (let i = 0; i < 800 && stream.send(event); i++) {
            sent += event.length;
            maxBuffered = Math.max(maxBuffered, stream.bufferedBytes, ctx.res.writableLength);
            if (i % 4 === 3) await tick();
          }
          stream.close();
          outcomes.set(String(ctx.query.who), { stream, sent, maxBuffered, destroyed: ctx.res.destroyed });
          if (outcomes.size === 2) both.resolve();
        },
        { maxBufferedBytes, heartbeatMs: 0 },
      ),
    );
    try {
      await withServer(app, async (handle) => {
        const stuck = await neverReading(handle.port, '/events?who=stuck');
        const reader = connect(handle.port, '127.0.0.1');
        let received = 0;
        reader.on('data', (chunk: Buffer) => {
          received += chunk.length;
        });
        reader.write('GET /events?who=reader HTTP/1.1\r\nHost: x\r\n\r\n');
        await both.promise;

        const slow = outcomes.get('stuck')!;
        assert.ok(slow.sent < offered / 4, `${slow.sent} bytes accepted for a client that reads nothing`);
        assert.ok(slow.maxBuffered <= maxBufferedBytes, `${slow.maxBuffered} bytes waited in the server`);
        assert.equal(slow.stream.closed, true);
        assert.equal(slow.stream.signal.aborted, true);
        assert.equal(slow.stream.bufferedBytes, 0);
        assert.equal(slow.destroyed, true, 'the connection is destroyed');
        const drop = lines.find((l) => l.msg === 'SSE client too slow: dropped');
        assert.equal(drop?.level, 'warn');
        assert.equal(typeof drop?.obj.requestId, 'string');
        stuck.resume();
        if (!stuck.destroyed) await once(stuck, 'close');

        const fast = outcomes.get('reader')!;
        assert.equal(fast.sent, offered, 'a client that reads gets everything');
        assert.equal(fast.destroyed, false);
        for (let i = 0; i < 500 && received < offered; i++) await sleep(10);
        assert.ok(received > offered);
        reader.destroy();
        assert.deepEqual(
          records.filter((r) => r.type === 'close').map((r) => r.reason),
          ['slow', 'end'],
        );
        assert.equal(records.filter((r) => r.type === 'open').length, 2);
      });
    } finally {
      unsubscribe('weir:http.sse', record);
    }
  });

  it('holds no overload slot, and outlives the route timeoutMs and the server timeouts while it beats', async () => {
    const app = new App({ logger: false });
    let ctxAborted = false;
    app.get('/events', { timeoutMs: 50 }, (ctx) => {
      ctx.signal.addEventListener('abort', () => {
        ctxAborted = true;
      });
      return sse(ctx, () => {}, { heartbeatMs: 25 });
    });
    const handle = await app.listen({
      port: 0,
      signals: false,
      headersTimeoutMs: 200,
      requestTimeoutMs: 200,
      keepAliveTimeoutMs: 200,
    });
    try {
      const readers = await Promise.all([1, 2, 3].map(() => openStream(handle.port, '/events')));
      // 24 beats of 25 ms: well past the route's 50 ms and the server's 200 ms timeouts.
      await Promise.all(readers.map((r) => r.until(() => parseEvents(r.text).comments >= 24, '24 beats')));
      assert.equal(app.overloadStats()?.inFlight, 0);
      for (const r of readers) assert.equal(r.outcome, 'open');
      assert.equal(ctxAborted, true, 'ctx.signal aborted at the route timeout; the stream ran on');
      for (const r of readers) r.close();
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });

  it('ends every open stream at once when the server drains, so shutdown does not wait for its deadline', {
    timeout: 20_000,
  }, async () => {
    const app = new App({ logger: false });
    const returned = deferred();
    let push: SseStream | undefined;
    // Like events.on(): one event, then a next() that waits for ever, until return() ends it.
    const quiet = (): AsyncIterable<string> => ({
      [Symbol.asyncIterator]: () => {
        let sent = false;
        return {
          next: () => {
            if (sent) return new Promise(() => {});
            sent = true;
            return Promise.resolve({ value: 'first', done: false });
          },
          return: () => {
            returned.resolve();
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    });
    app.get('/pull', (ctx) => sse(ctx, quiet()));
    app.get('/push', (ctx) =>
      sse(ctx, (stream) => {
        push = stream;
        stream.send('hello');
      }),
    );
    const handle = await serve(app);
    const pulling = await openStream(handle.port, '/pull');
    const pushed = await openStream(handle.port, '/push');
    await pulling.until(() => pulling.text.includes('first'), 'the first event');
    await pushed.until(() => pushed.text.includes('hello'), 'the first event');
    // The drain's deadline is far off: only ending the streams at once lets close() finish first.
    await handle.close({ timeoutMs: 60_000 });
    for (const reader of [pulling, pushed]) {
      await reader.until(() => reader.outcome !== 'open', 'the stream ends');
      assert.equal(reader.outcome, 'end', 'ended cleanly, not cut');
    }
    assert.equal(push?.closed, true);
    assert.equal(push?.signal.aborted, true);
    assert.equal(push?.send('late'), false);
    await returned.promise;
    // A stream that starts while the app drains ends at once.
    const late = await inject(app, { url: '/push' });
    assert.equal(late.status, 200);
    assert.equal(late.headers.connection, 'close');
    assert.equal(late.body, '');
  });

  it('cuts the connection and logs when the source fails, as for a failed stream()', async () => {
    const { logger, lines } = captureLog();
    const app = new App({ logger });
    async function* failing() {
      yield 'one';
      throw new Error('the feed broke');
    }
    app.get('/pull', (ctx) => sse(ctx, failing()));
    app.get('/push', (ctx) =>
      sse(ctx, async (stream) => {
        stream.send('one');
        await tick();
        throw new Error('the broadcaster broke');
      }),
    );
    await withServer(app, async (handle) => {
      for (const path of ['/pull', '/push']) {
        const reader = await openStream(handle.port, path);
        await reader.until(() => reader.outcome !== 'open', `${path} ends`);
        assert.equal(reader.outcome, 'aborted', `${path} is cut, not ended`);
      }
    });
    const failures = lines.filter((l) => l.msg === 'SSE source failed');
    assert.deepEqual(
      failures.map((l) => (l.obj.err as Error).message),
      ['the feed broke', 'the broadcaster broke'],
    );
    assert.ok(failures.every((l) => l.level === 'error' && typeof l.obj.requestId === 'string'));
  });

  it('fails a source that throws at once, yields an unsafe event or cannot be iterated; a throwing return() is harmless', async () => {
    const { logger, lines } = captureLog();
    const app = new App({ logger });
    const broken = (next: () => never, returns: () => never): AsyncIterable<string> => ({
      [Symbol.asyncIterator]: () => ({ next, return: returns }),
    });
    const boom = (what: string) => () => {
      throw new Error(what);
    };
    async function* unsafe() {
      yield { data: 1, id: 'a\nb' };
    }
    app.get('/sync', (ctx) => sse(ctx, boom('at once')));
    app.get('/next', (ctx) => sse(ctx, broken(boom('next'), boom('return'))));
    app.get('/unsafe', (ctx) => sse(ctx, unsafe()));
    await withServer(app, async (handle) => {
      for (const path of ['/sync', '/next', '/unsafe']) {
        const reader = await openStream(handle.port, path);
        await reader.until(() => reader.outcome !== 'open', `${path} ends`);
        assert.equal(reader.outcome, 'aborted', `${path} is cut`);
      }
    });
    assert.deepEqual(
      lines.filter((l) => l.msg === 'SSE source failed').map((l) => (l.obj.err as Error).message),
      ['at once', 'next', 'An SSE event id must be a string without CR, LF or NUL'],
    );
  });

  it('sends a heartbeat only after heartbeatMs with nothing written, and lets many small events through in turns', async () => {
    const app = new App({ logger: false });
    app.get('/beat', (ctx) =>
      sse(
        ctx,
        (stream) => {
          setTimeout(() => stream.send('x'), 30);
        },
        { heartbeatMs: 60 },
      ),
    );
    async function* many() {
      for (let i = 0; i < 200; i++) yield String(i);
    }
    app.get('/many', (ctx) => sse(ctx, many()));
    const res = await inject(app, { url: '/many' });
    assert.deepEqual(
      parseEvents(res.body).events.map((e) => e.data),
      Array.from({ length: 200 }, (_, i) => String(i)),
    );
    await withServer(app, async (handle) => {
      const reader = await openStream(handle.port, '/beat');
      await reader.until(() => parseEvents(reader.text).comments >= 1, 'a heartbeat');
      // The event at 30 ms put the first heartbeat off until 60 ms after it.
      assert.ok(reader.text.startsWith('data: x\n\n:\n\n'), JSON.stringify(reader.text));
      reader.close();
    });
  });

  it('stops writing once the response is taken out of its hands, and its body cannot be read as a stream', async () => {
    const app = new App({ logger: false });
    let sent: boolean | undefined;
    let closed: boolean | undefined;
    app.get('/taken', (ctx) =>
      sse(ctx, (stream) => {
        ctx.res.end();
        sent = stream.send('after the end');
        closed = stream.closed;
      }),
    );
    let readError: unknown;
    app.get('/destroyed', (ctx) => {
      const response = sse(ctx, () => {});
      const body = response.body as Readable;
      body.on('error', (err) => {
        readError = err;
      });
      body.read(); // reading it destroys it: the stream closes before it starts
      return response;
    });
    const taken = await inject(app, { url: '/taken' });
    assert.equal(taken.body, '');
    assert.equal(sent, false);
    assert.equal(closed, true);
    const destroyed = await inject(app, { url: '/destroyed' });
    assert.equal(destroyed.status, 200);
    assert.equal(destroyed.body, '', 'a stream closed before it started ends empty');
    assert.ok(readError instanceof TypeError);
  });
});
