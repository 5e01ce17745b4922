import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { App, type AppOptions, HttpError } from 'weir';
import { inject } from 'weir/testing';
import { deferred, request, serve } from '../helpers/http.ts';

const GENERATED = /^[0-9a-f]{16}-[0-9a-z]+$/;

/** An app whose /id answers `ctx.requestId`, served on an ephemeral port. */
async function idServer(options: AppOptions) {
  const app = new App({ logger: false, ...options });
  app.get('/id', (ctx) => ({ id: ctx.requestId }));
  const handle = await serve(app);
  const get = async (headers: Record<string, string> = {}) => {
    const res = await request(handle, { path: '/id', headers });
    return { header: res.headers['x-request-id'], id: (JSON.parse(res.body) as { id: string }).id, res };
  };
  return { handle, get };
}

/** A pino logger writing JSON lines into `lines`. */
function pinoLines(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('request ids', () => {
  it('gives each request a new id, echoed in X-Request-Id, and ignores incoming ids by default', async () => {
    const { handle, get } = await idServer({});
    try {
      const a = await get();
      const b = await get({ 'x-request-id': 'from-the-client' });
      assert.match(a.id, GENERATED);
      assert.equal(a.header, a.id);
      assert.match(b.id, GENERATED);
      assert.notEqual(a.id, b.id);
      assert.equal(b.header, b.id, 'an untrusted incoming id is replaced, not echoed');
    } finally {
      await handle.close();
    }
  });

  it('keeps a trusted, well-formed incoming id and replaces a malformed one', async () => {
    const { handle, get } = await idServer({ requestId: { trust: true } });
    try {
      for (const good of [
        'abc',
        'f47ac10b-58cc-4372-a567-0e02b2c3d479',
        '01J9Z3K4QW:edge/1+x=@y_z.',
        'x'.repeat(128),
      ]) {
        const { id, header } = await get({ 'x-request-id': good });
        assert.equal(id, good);
        assert.equal(header, good);
      }
      for (const bad of [
        '',
        'x'.repeat(129),
        'has space',
        'quote"d',
        '<script>',
        'semi;colon',
        'tab\there',
        'é',
      ]) {
        const { id, header } = await get({ 'x-request-id': bad });
        assert.match(id, GENERATED, JSON.stringify(bad));
        assert.equal(header, id);
      }
    } finally {
      await handle.close();
    }
  });

  it('keeps incoming ids only from the peers `trust` lists', async () => {
    const near = await idServer({ requestId: { trust: ['127.0.0.0/8'] } });
    const far = await idServer({ requestId: { trust: ['10.0.0.0/8', '::1'] } });
    try {
      assert.equal((await near.get({ 'x-request-id': 'edge-7' })).id, 'edge-7');
      assert.match((await far.get({ 'x-request-id': 'edge-7' })).id, GENERATED);
    } finally {
      await near.handle.close();
      await far.handle.close();
    }
  });

  it('reads and echoes the header it is given, or none with `header: false`', async () => {
    const named = await idServer({ requestId: { header: 'Request-Id', trust: true } });
    const none = await idServer({ requestId: { header: false, trust: true } });
    try {
      const res = await named.get({ 'request-id': 'abc-1' });
      assert.equal(res.id, 'abc-1');
      assert.equal(res.res.headers['request-id'], 'abc-1');
      assert.equal(res.header, undefined);
      const quiet = await none.get({ 'x-request-id': 'abc-1' });
      assert.match(quiet.id, GENERATED, 'no header read');
      assert.equal(quiet.header, undefined, 'no header echoed');
    } finally {
      await named.handle.close();
      await none.handle.close();
    }
  });

  it('uses `generate`, and weir’s own id when it makes a malformed one', async () => {
    let n = 0;
    const app = new App({
      logger: false,
      requestId: { generate: () => (++n % 2 === 1 ? `req-${n}` : 'bad id') },
    });
    app.get('/id', (ctx) => ctx.requestId);
    assert.equal((await inject(app, { url: '/id' })).body, 'req-1');
    assert.match((await inject(app, { url: '/id' })).body, GENERATED);
    assert.equal((await inject(app, { url: '/id' })).body, 'req-3');
  });

  it('puts the id in 5xx bodies and the error log line, not in 4xx bodies', async () => {
    const { logger, lines } = pinoLines();
    const app = new App({ logger });
    app.get('/boom', () => {
      throw new Error('secret detail');
    });
    app.get('/unavailable', () => {
      throw new HttpError(503, 'DOWN', 'Try later');
    });
    app.get('/bad', () => {
      throw HttpError.badRequest('No');
    });
    const boom = await inject(app, { url: '/boom' });
    const id = boom.headers['x-request-id'];
    assert.match(String(id), GENERATED);
    assert.deepEqual(boom.json(), {
      error: { code: 'WEIR_ERR_INTERNAL', message: 'Internal Server Error', requestId: id },
    });
    assert.doesNotMatch(boom.body, /secret/);
    const logged = lines.find((l) => l.msg === 'unhandled error in handler');
    assert.equal(logged?.requestId, id);
    const down = await inject(app, { url: '/unavailable' });
    assert.equal(down.json<{ error: { requestId: string } }>().error.requestId, down.headers['x-request-id']);
    const bad = await inject(app, { url: '/bad' });
    assert.equal(bad.status, 400);
    assert.equal(bad.json<{ error: { requestId?: string } }>().error.requestId, undefined);
    assert.match(String(bad.headers['x-request-id']), GENERATED, 'still echoed in the header');
  });

  it('names shed requests too: the 503 the limiter answers carries the id in its header and body', async () => {
    const app = new App({
      logger: false,
      overload: { minLimit: 1, maxLimit: 1, initialLimit: 1, maxQueue: 0, queueTimeoutMs: 5000 },
    });
    const { promise: gate, resolve: release } = deferred();
    app.get('/work', async () => {
      await gate;
      return 'done';
    });
    const handle = await serve(app);
    try {
      const first = request(handle, { path: '/work' });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const shed = await request(handle, { path: '/work' });
      assert.equal(shed.status, 503);
      const id = shed.headers['x-request-id'];
      assert.match(String(id), GENERATED);
      assert.equal(
        (JSON.parse(shed.body) as { error: { code: string; requestId: string } }).error.requestId,
        id,
      );
      release();
      assert.equal((await first).status, 200);
    } finally {
      release();
      await handle.close();
    }
  });

  it('binds the id to ctx.log: a pino child, or merged into each line of a logger without child()', async () => {
    const { logger, lines } = pinoLines();
    const plain: { obj: unknown; msg: string | undefined }[] = [];
    const record = (obj: unknown, msg?: string) => plain.push({ obj, msg });
    for (const log of [logger, { error: record, warn: record, info: record, debug: record }]) {
      const app = new App({ logger: log });
      app.get('/work', (ctx) => {
        ctx.log.info({ step: 'one' }, 'working');
        ctx.log.warn('bare message');
        return ctx.requestId;
      });
      const res = await inject(app, { url: '/work', headers: { 'x-request-id': 'ignored' } });
      const id = res.body;
      assert.equal(res.headers['x-request-id'], id);
      if (log === logger) {
        assert.deepEqual(
          lines.filter((l) => l.requestId === id).map((l) => [l.msg, l.step]),
          [
            ['working', 'one'],
            ['bare message', undefined],
          ],
        );
      } else {
        assert.deepEqual(plain, [
          { obj: { requestId: id, step: 'one' }, msg: 'working' },
          { obj: { requestId: id }, msg: 'bare message' },
        ]);
      }
    }
  });

  it('refuses malformed options, naming them', () => {
    for (const requestId of [
      { header: 'bad header' },
      { header: '' },
      { trust: [] },
      { trust: ['not-an-address'] },
      { generate: 'uuid' },
      'yes',
    ]) {
      assert.throws(
        () => new App({ logger: false, requestId: requestId as never }),
        (err: Error & { code?: string }) =>
          err.code === 'WEIR_ERR_INVALID_OPTION' && /requestId|trustProxy/.test(err.message),
        JSON.stringify(requestId),
      );
    }
  });
});
