/**
 * idempotency() on the in-process cache, through the whole pipeline with inject(): one execution per
 * key, replays, 409 while running, 422 for another body, and which outcomes release the key.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { App, HttpError, json, stream } from 'weir';
import { type Cache, openCache } from 'weir/cache';
import { idempotency, idempotencyKey } from 'weir/idempotency';
import { inject } from 'weir/testing';
import { deferred } from '../helpers/http.ts';

const caches: Cache[] = [];
afterEach(async () => {
  for (const cache of caches.splice(0)) await cache.close();
});

async function memory(): Promise<Cache> {
  const cache = await openCache('memory:', { logger: false });
  caches.push(cache);
  return cache;
}

const post = (app: App, key: string | undefined, body: unknown = { amount: 5 }, url = '/payments') =>
  inject(app, {
    method: 'POST',
    url,
    headers: key === undefined ? {} : { 'idempotency-key': key },
    body,
  });

/** An app whose POST /payments counts its runs and answers 201 with a Location and a fresh id. */
async function paymentsApp(options: Partial<Parameters<typeof idempotency>[0]> = {}) {
  const app = new App({ logger: false });
  const runs = { count: 0 };
  app.post('/payments', idempotency({ cache: await memory(), ...options }), async (ctx) => {
    const body = await ctx.json<{ amount: number }>();
    runs.count++;
    const id = `pay_${runs.count}_${Math.random().toString(36).slice(2)}`;
    ctx.set('set-cookie', 'seen=1');
    return json({ id, amount: body.amount }, { status: 201, headers: { location: `/payments/${id}` } });
  });
  return { app, runs };
}

describe('idempotency()', () => {
  it('runs a repeated key once and replays the first response: status, headers and body', async () => {
    const { app, runs } = await paymentsApp();
    const first = await post(app, 'order-1');
    const second = await post(app, 'order-1');
    assert.equal(runs.count, 1);
    assert.equal(first.status, 201);
    assert.equal(second.status, 201);
    assert.equal(second.body, first.body);
    assert.equal(second.headers.location, first.headers.location);
    assert.equal(second.headers['content-type'], 'application/json');
    assert.equal(second.headers['idempotent-replayed'], 'true');
    assert.equal(first.headers['idempotent-replayed'], undefined);
    assert.equal(first.headers['set-cookie'], 'seen=1');
    assert.equal(second.headers['set-cookie'], undefined, 'Set-Cookie is never replayed');
    // Another key is another request.
    assert.equal((await post(app, 'order-2')).status, 201);
    assert.equal(runs.count, 2);
  });

  it('answers 422 for the same key with another body, query or content type, and runs nothing', async () => {
    const { app, runs } = await paymentsApp();
    assert.equal((await post(app, 'k')).status, 201);
    const otherBody = await post(app, 'k', { amount: 6 });
    assert.equal(otherBody.status, 422);
    assert.equal(otherBody.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_IDEMPOTENCY_KEY_REUSED');
    assert.equal((await post(app, 'k', { amount: 5 }, '/payments?currency=eur')).status, 422);
    const otherType = await inject(app, {
      method: 'POST',
      url: '/payments',
      headers: { 'idempotency-key': 'k', 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ amount: 5 }),
    });
    assert.equal(otherType.status, 422);
    assert.equal(runs.count, 1);
    assert.equal((await post(app, 'k')).headers['idempotent-replayed'], 'true');
  });

  it('runs concurrent duplicates once: the others get 409 with Retry-After, then the replay', async () => {
    const app = new App({ logger: false });
    const gate = deferred();
    let runs = 0;
    app.post('/slow', idempotency({ cache: await memory(), retryAfterSeconds: 2 }), async () => {
      runs++;
      await gate.promise;
      return { done: true };
    });
    const first = post(app, 'same', {}, '/slow');
    await delay(20);
    const others = await Promise.all(Array.from({ length: 5 }, () => post(app, 'same', {}, '/slow')));
    for (const res of others) {
      assert.equal(res.status, 409);
      assert.equal(res.headers['retry-after'], '2');
      assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_IDEMPOTENCY_IN_PROGRESS');
    }
    // Another body is told apart at once, even while the first runs.
    assert.equal((await post(app, 'same', { other: 1 }, '/slow')).status, 422);
    gate.resolve();
    assert.deepEqual((await first).json(), { done: true });
    const after = await post(app, 'same', {}, '/slow');
    assert.deepEqual(after.json(), { done: true });
    assert.equal(after.headers['idempotent-replayed'], 'true');
    assert.equal(runs, 1);
  });

  it('binds the key to the method, the path and the scope', async () => {
    const app = new App({ logger: false });
    let runs = 0;
    const guard = idempotency({
      cache: await memory(),
      methods: ['POST', 'PATCH'],
      scope: (ctx) => String(ctx.headers['x-tenant'] ?? ''),
    });
    const handler = () => ({ run: ++runs });
    app.post('/a', guard, handler);
    app.patch('/a', guard, handler);
    app.post('/b/:id', guard, handler);
    const send = (method: string, url: string, tenant = 't1') =>
      inject(app, { method, url, headers: { 'idempotency-key': 'k', 'x-tenant': tenant }, body: {} });
    assert.deepEqual((await send('POST', '/a')).json(), { run: 1 });
    assert.deepEqual((await send('PATCH', '/a')).json(), { run: 2 });
    assert.deepEqual((await send('POST', '/b/1')).json(), { run: 3 });
    assert.deepEqual((await send('POST', '/b/2')).json(), { run: 4 });
    assert.deepEqual((await send('POST', '/a', 't2')).json(), { run: 5 });
    assert.deepEqual((await send('POST', '/a')).json(), { run: 1 });
    assert.equal(runs, 5);
  });

  it('releases the key when the route throws or answers 5xx, 408, 409 or 429: the retry runs again', async () => {
    const app = new App({ logger: false });
    const outcomes: (() => unknown)[] = [
      () => {
        throw new Error('database went away');
      },
      () => {
        throw HttpError.badRequest('a thrown 4xx releases too');
      },
      () => json({ busy: true }, 503),
      () => json({ conflict: true }, 409),
      () => json({ slow: true }, 429),
      () => json({ late: true }, 408),
      () => json({ invalid: true }, 400),
    ];
    let runs = 0;
    app.post('/flaky', idempotency({ cache: await memory() }), () => outcomes[runs++]!());
    const statuses = [];
    for (let i = 0; i < 7; i++) statuses.push((await post(app, 'retry-me', {}, '/flaky')).status);
    assert.deepEqual(statuses, [500, 400, 503, 409, 429, 408, 400]);
    assert.equal(runs, 7);
    // A 4xx the route returns (not throws) is its answer: kept and replayed.
    const replayed = await post(app, 'retry-me', {}, '/flaky');
    assert.equal(replayed.status, 400);
    assert.deepEqual(replayed.json(), { invalid: true });
    assert.equal(runs, 7);
  });

  it('keeps a response for windowMs, and a claim whose request never ends for lockMs', async () => {
    const app = new App({ logger: false });
    let runs = 0;
    const hang = deferred();
    // 300 ms: long enough that a stalled machine still replays (and still refuses) within them.
    app.post('/short', idempotency({ cache: await memory(), windowMs: 300 }), () => ({ run: ++runs }));
    let stuckRuns = 0;
    app.post('/stuck', idempotency({ cache: await memory(), lockMs: 300 }), async () => {
      if (++stuckRuns === 1) await hang.promise;
      return { run: stuckRuns };
    });
    assert.deepEqual((await post(app, 'w', {}, '/short')).json(), { run: 1 });
    assert.deepEqual((await post(app, 'w', {}, '/short')).json(), { run: 1 });
    await delay(400);
    assert.deepEqual((await post(app, 'w', {}, '/short')).json(), { run: 1 + 1 });
    const stuck = post(app, 'l', {}, '/stuck');
    await delay(10);
    assert.equal((await post(app, 'l', {}, '/stuck')).status, 409);
    await delay(400);
    // The first claim expired (as it would after its process died): the key runs again.
    assert.deepEqual((await post(app, 'l', {}, '/stuck')).json(), { run: 2 });
    hang.resolve();
    await stuck;
  });

  it('replays bytes, empty and text bodies as they were, with replayHeaders kept', async () => {
    const app = new App({ logger: false });
    let runs = 0;
    const guard = idempotency({ cache: await memory(), replayHeaders: ['x-request-cost'] });
    app.post('/bytes', guard, (ctx) => {
      runs++;
      ctx.set('x-request-cost', 3).set('x-other', 'dropped');
      return new Uint8Array([0, 255, 10, 13, runs]);
    });
    app.post('/empty', guard, () => {
      runs++;
    });
    app.post('/text', guard, (ctx) => {
      runs++;
      ctx.status(202);
      return `queued ${runs} ✓`;
    });
    for (const url of ['/bytes', '/empty', '/text']) {
      const first = await post(app, 'b', {}, url);
      const second = await post(app, 'b', {}, url);
      assert.equal(second.status, first.status, url);
      assert.deepEqual(second.rawBody, first.rawBody, url);
      assert.equal(second.headers['content-type'], first.headers['content-type'], url);
      assert.equal(second.headers['idempotent-replayed'], 'true');
    }
    assert.equal(runs, 3);
    const bytes = await post(app, 'b', {}, '/bytes');
    assert.equal(bytes.headers['x-request-cost'], '3');
    assert.equal(bytes.headers['x-other'], undefined);
  });

  it('a streamed or too large response is sent but not kept: repeats get 409 NOT_REPLAYABLE, not a second run', async () => {
    const app = new App({ logger: false });
    let runs = 0;
    const guard = idempotency({ cache: await memory(), maxResponseBytes: 100 });
    app.post('/stream', guard, () => {
      runs++;
      return stream(Readable.from(['a', 'b']));
    });
    app.post('/big', guard, () => {
      runs++;
      return 'x'.repeat(101);
    });
    for (const url of ['/stream', '/big']) {
      assert.equal((await post(app, 's', {}, url)).status, 200);
      const again = await post(app, 's', {}, url);
      assert.equal(again.status, 409);
      assert.equal(again.headers['retry-after'], undefined);
      assert.equal(
        again.json<{ error: { code: string } }>().error.code,
        'WEIR_ERR_IDEMPOTENCY_NOT_REPLAYABLE',
      );
      assert.equal((await post(app, 's', { other: true }, url)).status, 422);
    }
    assert.equal(runs, 2);
  });

  it('passes requests without a key, or with another method, through; required: true answers 400', async () => {
    const app = new App({ logger: false });
    let runs = 0;
    app.post('/open', idempotency({ cache: await memory() }), () => ({ run: ++runs }));
    app.put('/open', idempotency({ cache: await memory() }), () => ({ run: ++runs }));
    app.post('/strict', idempotency({ cache: await memory(), required: true }), () => ({ run: ++runs }));
    await post(app, undefined, {}, '/open');
    await post(app, undefined, {}, '/open');
    await inject(app, { method: 'PUT', url: '/open', headers: { 'idempotency-key': 'p' }, body: {} });
    await inject(app, { method: 'PUT', url: '/open', headers: { 'idempotency-key': 'p' }, body: {} });
    assert.equal(runs, 4);
    const missing = await post(app, undefined, {}, '/strict');
    assert.equal(missing.status, 400);
    assert.equal(missing.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_IDEMPOTENCY_KEY_MISSING');
    assert.match(missing.json<{ error: { message: string } }>().error.message, /idempotency-key/);
    assert.equal(runs, 4);
  });

  it('hands the route a stable identifier bound to scope, method, path and key, never the key itself', async () => {
    const app = new App({ logger: false });
    const seen: (string | undefined)[] = [];
    let fail = true;
    app.post('/ids/:n', idempotency({ cache: await memory() }), async (ctx) => {
      seen.push(idempotencyKey(ctx));
      assert.deepEqual(await ctx.json(), { x: 1 }, 'the body can still be read');
      if (fail) {
        fail = false;
        throw new Error('first attempt fails');
      }
      return { ok: true };
    });
    await post(app, 'secret-key-123', { x: 1 }, '/ids/1');
    await post(app, 'secret-key-123', { x: 1 }, '/ids/1');
    await post(app, 'secret-key-123', { x: 1 }, '/ids/2');
    await post(app, undefined, { x: 1 }, '/ids/3');
    assert.equal(seen.length, 4);
    assert.equal(seen[0], seen[1], 'the retry gets the same identifier');
    assert.notEqual(seen[1], seen[2], 'another path, another identifier');
    assert.equal(seen[3], undefined);
    assert.match(seen[0]!, /^[\w-]{43}$/);
    assert.doesNotMatch(seen[0]!, /secret/);
  });

  it('a cache that fails after the route ran leaves its answer standing, and says so in the log', async () => {
    const errors: string[] = [];
    const logger = {
      error: (_obj: unknown, msg?: string) => errors.push(String(msg)),
      warn: () => undefined,
      info: () => undefined,
      debug: () => undefined,
    };
    const app = new App({ logger });
    const cache = await openCache('memory:', { logger: false });
    app.post('/closing', idempotency({ cache }), async () => {
      await cache.close(); // as in a shutdown that closed the cache too early
      return json({ done: true }, 201);
    });
    const res = await post(app, 'k', {}, '/closing');
    assert.equal(res.status, 201);
    assert.deepEqual(res.json(), { done: true });
    assert.equal(errors.length, 1);
    assert.match(errors[0]!, /could not be kept/);
  });

  it('answers 503 with Retry-After, running nothing, while the cache does not answer', async () => {
    const cache = await openCache('redis://127.0.0.1:1', { logger: false, connectTimeoutMs: 100 });
    caches.push(cache);
    assert.equal(cache.status, 'degraded');
    const app = new App({ logger: false });
    let runs = 0;
    app.post('/guarded', idempotency({ cache }), () => ({ run: ++runs }));
    const res = await post(app, 'k', {}, '/guarded');
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '1');
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_IDEMPOTENCY_UNAVAILABLE');
    assert.doesNotMatch(res.body, /127\.0\.0\.1/);
    assert.equal(runs, 0);
    assert.equal(
      (await post(app, undefined, {}, '/guarded')).status,
      200,
      'requests without a key still run',
    );
  });
});
