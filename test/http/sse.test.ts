import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { App, lastEventId, type SseStream, sse } from 'weir';
import { inject } from 'weir/testing';
import { deferred } from '../helpers/http.ts';
import { openStream, parseEvents, withServer } from '../helpers/sse.ts';

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
