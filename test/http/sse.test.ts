import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep, setImmediate as tick } from 'node:timers/promises';
import { App, type Logger, lastEventId, type ServerHandle, type SseStream, sse } from 'weir';
import { inject } from 'weir/testing';
import { deferred, serve } from '../helpers/http.ts';
import { openStream, parseEvents } from '../helpers/sse.ts';

type Line = { level: string; obj: Record<string, unknown>; msg: string | undefined };

function captureLog(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }, lines };
}

async function withServer(app: App, run: (handle: ServerHandle) => Promise<void>): Promise<void> {
  const handle = await serve(app);
  try {
    await run(handle);
  } finally {
    await handle.close({ timeoutMs: 1000 });
  }
}

/** A raw connection that sends a GET and then reads nothing: its kernel buffer fills, then the server's. */
async function neverReading(port: number, path: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  socket.on('error', () => {});
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  return socket;
}

/** Polls `value()` every 25 ms until it stops changing for 8 polls (at most 400 polls). */
async function settled(value: () => number): Promise<number> {
  let last = -1;
  let same = 0;
  for (let i = 0; i < 400 && same < 8; i++) {
    const now = value();
    same = now === last ? same + 1 : 0;
    last = now;
    await sleep(25);
  }
  return last;
}

describe('sse()', () => {
  it('frames events exactly: multi-line data, ids, event names, JSON, retry; headers for a stream', async () => {
    const app = new App({ logger: false });
    let afterClose: boolean | undefined;
    app.get('/events', (ctx) =>
      sse(
        ctx,
        (stream) => {
          stream.send('plain');
          stream.send({ data: 'a\nb\r\nc\rd', event: 'multi', id: '7' });
          stream.send({ data: { x: 1, s: 'line\nbreak' } });
          stream.send({ data: ' lead', retry: 500 });
          stream.send({ data: '' });
          stream.close();
          afterClose = stream.send('late');
        },
        { retryMs: 2000 },
      ),
    );
    await withServer(app, async (handle) => {
      const reader = await openStream(handle.port, '/events');
      await reader.until(() => reader.outcome !== 'open', 'the stream ends');
      assert.equal(reader.outcome, 'end');
      assert.equal(reader.res.statusCode, 200);
      assert.equal(reader.res.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.equal(reader.res.headers['cache-control'], 'no-cache, no-transform');
      assert.equal(reader.res.headers['x-accel-buffering'], 'no');
      assert.equal(reader.res.headers['content-length'], undefined);
      assert.equal(reader.res.headers['transfer-encoding'], 'chunked');
      assert.ok(reader.res.headers['x-request-id']);
      assert.equal(
        reader.text,
        'retry: 2000\n\n' +
          'data: plain\n\n' +
          'event: multi\nid: 7\ndata: a\ndata: b\ndata: c\ndata: d\n\n' +
          'data: {"x":1,"s":"line\\nbreak"}\n\n' +
          'retry: 500\ndata:  lead\n\n' +
          'data: \n\n',
      );
      const parsed = parseEvents(reader.text);
      assert.equal(parsed.retry, 500);
      assert.deepEqual(parsed.events, [
        { type: 'message', data: 'plain', lastEventId: '' },
        { type: 'multi', data: 'a\nb\nc\nd', lastEventId: '7' },
        { type: 'message', data: '{"x":1,"s":"line\\nbreak"}', lastEventId: '7' },
        { type: 'message', data: ' lead', lastEventId: '7' },
        { type: 'message', data: '', lastEventId: '7' },
      ]);
      assert.equal(afterClose, false);
    });
  });

  it('lets no data string inject an event or a field, and refuses names and ids that would', async () => {
    const app = new App({ logger: false });
    const hostile = 'x\n\nevent: evil\ndata: y\rid: 1\r\n\r\nretry: 1\r';
    const refused: string[] = [];
    app.get('/events', (ctx) =>
      sse(ctx, (stream) => {
        stream.send({ data: hostile, id: 'ok' });
        const bad = [
          { data: 1, event: 'a\nb' },
          { data: 1, event: 'a\rb' },
          { data: 1, id: 'a\r\nb' },
          { data: 1, id: 'a\0b' },
          { data: 1, retry: -1 },
          { data: 1, retry: 1.5 },
          { data: 10n },
          { data: () => 1 },
        ];
        for (const event of bad) {
          try {
            stream.send(event);
          } catch (err) {
            if (err instanceof TypeError) refused.push(err.message);
          }
        }
        stream.close();
      }),
    );
    const res = await inject(app, { url: '/events' });
    assert.equal(refused.length, 8);
    const parsed = parseEvents(res.body);
    assert.equal(parsed.retry, undefined);
    assert.deepEqual(parsed.events, [
      { type: 'message', data: hostile.replace(/\r\n|\r/g, '\n'), lastEventId: 'ok' },
    ]);
  });

  it('delivers Last-Event-ID to the source, and treats a hostile one as absent', async () => {
    const echo = (): App => {
      const app = new App({ logger: false });
      app.get('/events', (ctx) =>
        sse(ctx, (stream) => {
          stream.send(JSON.stringify(stream.lastEventId ?? null));
          stream.close();
        }),
      );
      async function* after(id: string | undefined) {
        yield JSON.stringify(id ?? null);
      }
      app.get('/pull', (ctx) => sse(ctx, after(lastEventId(ctx))));
      return app;
    };
    const idOf = (body: string) => JSON.parse(parseEvents(body).events[0]!.data) as string | null;
    await withServer(echo(), async (handle) => {
      const reader = await openStream(handle.port, '/events', { 'last-event-id': 'evt-41' });
      await reader.until(() => reader.outcome === 'end', 'the stream ends');
      assert.equal(idOf(reader.text), 'evt-41');
      const long = await openStream(handle.port, '/events', { 'last-event-id': 'a'.repeat(1025) });
      await long.until(() => long.outcome === 'end', 'the stream ends');
      assert.equal(idOf(long.text), null);
      const pulled = await openStream(handle.port, '/pull', { 'last-event-id': 'evt-42' });
      await pulled.until(() => pulled.outcome === 'end', 'the stream ends');
      assert.equal(idOf(pulled.text), 'evt-42');
    });
    // A socket cannot carry CR or LF in a header, nor Node's parser take 100 kB of one: inject() can.
    const app = echo();
    for (const hostile of ['a\r\nevent: x', 'a\nb', 'a\rb', 'a\0b', 'x'.repeat(100_000)]) {
      for (const url of ['/events', '/pull']) {
        const res = await inject(app, { url, headers: { 'last-event-id': hostile } });
        assert.equal(idOf(res.body), null, `${url} ${JSON.stringify(hostile.slice(0, 20))}`);
      }
    }
    const ok = await inject(app, { url: '/events', headers: { 'last-event-id': 'b'.repeat(1024) } });
    assert.equal(idOf(ok.body), 'b'.repeat(1024));
  });

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

  it('answers HEAD with the headers alone, and never starts the source', async () => {
    const app = new App({ logger: false });
    let started = false;
    app.get('/events', (ctx) =>
      sse(ctx, () => {
        started = true;
      }),
    );
    const res = await inject(app, { method: 'HEAD', url: '/events' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(res.body, '');
    assert.equal(started, false);
  });

  it('works under inject() with a source that ends: the whole stream is the body', async () => {
    const app = new App({ logger: false });
    async function* three() {
      for (let i = 1; i <= 3; i++) yield { event: 'n', id: String(i), data: i };
    }
    app.get('/events', (ctx) => sse(ctx, three()));
    const res = await inject(app, { url: '/events' });
    assert.equal(res.status, 200);
    assert.equal(
      res.body,
      'event: n\nid: 1\ndata: 1\n\nevent: n\nid: 2\ndata: 2\n\nevent: n\nid: 3\ndata: 3\n\n',
    );
  });

  it('closes the source when middleware replaces the response, and when the client leaves', async () => {
    const app = new App({ logger: false });
    const returned = deferred();
    let started = false;
    const never = (): AsyncIterable<string> => ({
      [Symbol.asyncIterator]: () => ({
        next: () => {
          started = true;
          return Promise.resolve({ value: 'never sent', done: false });
        },
        return: () => {
          returned.resolve();
          return Promise.resolve({ value: undefined, done: true });
        },
      }),
    });
    app.use(async (ctx, next) => {
      await next();
      if (ctx.query.replace !== undefined) return 'replaced';
    });
    app.get('/events', (ctx) => sse(ctx, never()));
    let pushed: SseStream | undefined;
    app.get('/push', (ctx) =>
      sse(ctx, (stream) => {
        pushed = stream;
      }),
    );
    assert.equal((await inject(app, { url: '/events?replace' })).body, 'replaced');
    await returned.promise;
    assert.equal(started, false, 'the source was never pulled');
    await withServer(app, async (handle) => {
      const reader = await openStream(handle.port, '/push');
      for (let i = 0; i < 200 && pushed === undefined; i++) await sleep(5);
      assert.equal(pushed?.closed, false);
      reader.close();
      for (let i = 0; i < 200 && !pushed!.closed; i++) await sleep(5);
      assert.equal(pushed!.closed, true);
      assert.equal(pushed!.signal.aborted, true);
      assert.equal(pushed!.send('gone'), false);
    });
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

  it('refuses a source that is neither an async iterable nor a function, and malformed options', async () => {
    const app = new App({ logger: false });
    const codes: unknown[] = [];
    app.get('/events', (ctx) => {
      const attempts = [
        () => sse(ctx, [1, 2] as never),
        () => sse(ctx, 'text' as never),
        () => sse(ctx, () => {}, { heartbeatMs: -1 }),
        () => sse(ctx, () => {}, { maxBufferedBytes: 0 }),
        () => sse(ctx, () => {}, { retryMs: 1.5 }),
      ];
      for (const attempt of attempts) {
        try {
          attempt();
        } catch (err) {
          codes.push((err as { code?: unknown }).code);
        }
      }
      return 'checked';
    });
    assert.equal((await inject(app, { url: '/events' })).body, 'checked');
    assert.deepEqual(codes, Array(5).fill('WEIR_ERR_INVALID_OPTION'));
  });
});
