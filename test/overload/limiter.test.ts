import assert from 'node:assert/strict';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Agent } from 'node:http';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { App, type ServerHandle } from 'weir';
import { inject } from 'weir/testing';
import { pressure } from '../../src/internal/pressure.ts';
import { type RawResponse, raw, request, serve } from '../helpers/http.ts';
import { spawnNode, spawnTs } from '../helpers/process.ts';

/** A gate a handler waits on, opened by the test. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/**
 * An app whose limit is pinned to one slot (min = max = 1), with a route that holds it until told.
 * Requests are served in order for 300 ms (not the default 50) unless `overload` says otherwise: the
 * tests of the order must not turn newest-first on a slow machine.
 */
function pinned(overload: Record<string, number> = {}) {
  const app = new App({
    logger: false,
    overload: {
      minLimit: 1,
      maxLimit: 1,
      initialLimit: 1,
      queueTimeoutMs: 300,
      staleAfterMs: 300,
      ...overload,
    },
  });
  const held = gate();
  let entered = 0;
  const order: string[] = [];
  app.get('/hold', async () => {
    entered++;
    await held.wait;
    return 'held';
  });
  app.post('/upload', async (ctx) => {
    entered++;
    return { bytes: (await ctx.buffer()).length };
  });
  app.get('/batch/:id', { priority: 'batch' }, (ctx) => {
    order.push(`batch ${ctx.params.id}`);
    return 'batch';
  });
  app.get('/critical/:id', { priority: 'critical' }, (ctx) => {
    order.push(`critical ${ctx.params.id}`);
    return 'critical';
  });
  app.get('/healthz', { shed: false }, () => 'ok');
  return { app, held, order, entered: () => entered };
}

/** Sends GET /hold and waits until its handler runs (it holds the only slot); resolves to its response. */
async function hold(
  handle: ServerHandle,
  entered: () => number,
): Promise<{ response: Promise<RawResponse> }> {
  const before = entered();
  const response = request(handle, { path: '/hold' });
  for (let i = 0; i < 200 && entered() === before; i++) await sleep(5);
  assert.equal(entered(), before + 1, 'the holding request runs');
  return { response };
}

/** A new app (its limit still in its start-up probe) whose `/hold` holds each request until `held.open()`. */
function probingApp(): { app: App; held: ReturnType<typeof gate>; entered: () => number } {
  const app = new App({ logger: false });
  const held = gate();
  let entered = 0;
  app.get('/hold', async () => {
    entered++;
    await held.wait;
    return 'held';
  });
  return { app, held, entered: () => entered };
}

/** Waits (at most a second) until `n` requests wait for a slot of `app`'s limiter. */
async function queued(app: App, n: number): Promise<void> {
  for (let i = 0; i < 200 && app.overloadStats()!.queued < n; i++) await sleep(5);
  assert.equal(app.overloadStats()!.queued, n);
}

describe('the overload limiter on a real server', () => {
  it('gives a slot back when its client leaves before the answer, and once only when the handler ends', async () => {
    const t = pinned();
    const handle = await serve(t.app);
    try {
      const socket = connect(handle.port, '127.0.0.1');
      socket.on('error', () => {});
      const before = t.entered();
      socket.write('GET /hold HTTP/1.1\r\nhost: x\r\n\r\n');
      for (let i = 0; i < 200 && t.entered() === before; i++) await sleep(5);
      assert.equal(t.app.overloadStats()!.inFlight, 1, 'the held request takes the only slot');
      socket.destroy();
      // The slot is free again: the next request is served at once, not shed at queueTimeoutMs.
      const next = await request(handle, { path: '/critical/after' });
      assert.equal(next.status, 200);
      assert.deepEqual(t.order, ['critical after']);
      // The left handler ends now: its slot was given back already, not a second time.
      t.held.open();
      await sleep(20);
      const { inFlight, admitted } = t.app.overloadStats()!;
      assert.deepEqual({ inFlight, admitted }, { inFlight: 0, admitted: 2 });
      assert.equal((await request(handle, { path: '/critical/last' })).status, 200);
      assert.equal(t.app.overloadStats()!.inFlight, 0);
    } finally {
      t.held.open();
      await handle.close();
    }
  });

  it('sheds a request that waited queueTimeoutMs with a fast 503, without running its handler or reading its body', async () => {
    const t = pinned();
    const handle = await serve(t.app);
    const shed: unknown[] = [];
    const onShed = (m: unknown): void => {
      shed.push(m);
    };
    subscribe('weir:overload', onShed);
    try {
      const holding = (await hold(handle, t.entered)).response;
      // A body announced but never sent: a handler reading it would wait for ever.
      const socket = connect(handle.port, '127.0.0.1');
      let raw = '';
      socket.on('data', (c) => {
        raw += c;
      });
      const started = Date.now();
      socket.write(
        'POST /upload HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 1000000\r\n\r\nabc',
      );
      await new Promise((resolve) => socket.once('close', resolve));
      const took = Date.now() - started;
      assert.match(raw, /^HTTP\/1\.1 503 /);
      assert.match(raw, /\r\nretry-after: 1\r\n/i);
      assert.match(raw, /\r\nconnection: close\r\n/i);
      assert.match(raw, /"code":"WEIR_ERR_OVERLOADED"/);
      assert.ok(took >= 250 && took < 2000, `answered after ${took} ms`);
      assert.equal(t.entered(), 1, 'the shed request never reached its handler');
      t.held.open();
      assert.equal((await holding).status, 200);
      const stats = t.app.overloadStats()!;
      assert.equal(stats.shed.byReason['queue-timeout'], 1);
      assert.deepEqual(stats.shed.byPriority, { normal: 1 });
      assert.ok(shed.some((m) => (m as { type: string; reason: string }).reason === 'queue-timeout'));
    } finally {
      unsubscribe('weir:overload', onShed);
      t.held.open();
      await handle.close();
    }
  });

  it('serves the requests that went stale while newest-first once no more arrive, instead of leaving them to time out', async () => {
    const t = pinned({ staleAfterMs: 20, lifoAfterMs: 30, queueTimeoutMs: 5000 });
    const handle = await serve(t.app);
    try {
      const holding = (await hold(handle, t.entered)).response;
      const waiting = [1, 2, 3, 4, 5].map((id) => request(handle, { path: `/critical/${id}` }));
      await queued(t.app, 5);
      await sleep(100);
      const started = Date.now();
      t.held.open();
      const statuses = await Promise.all([holding, ...waiting]);
      const took = Date.now() - started;
      assert.deepEqual(
        statuses.map((r) => r.status),
        [200, 200, 200, 200, 200, 200],
      );
      // All stale and nothing arriving: served as the slot frees up (newest first), not at the timeout.
      assert.equal(t.app.overloadStats()!.lifo, false, 'the queue turned back once empty');
      assert.ok(took < 2000, `served within ${took} ms of the slot freeing up`);
      assert.equal(t.order.length, 5);
      assert.equal(t.app.overloadStats()!.shed.total, 0);
    } finally {
      t.held.open();
      await handle.close();
    }
  });

  it('keeps the process alive while it holds stale requests back: an app served by inject() alone answers them', async () => {
    const child = spawnTs(new URL('../fixtures/overload-held-inject.ts', import.meta.url));
    assert.equal(await child.exited(), 0, child.output());
    assert.match(child.output(), /served 7/);
  });

  it('gives a freed slot to the highest class waiting, and turns batch away first when the queue is full', async () => {
    const t = pinned({ maxQueue: 3, queueTimeoutMs: 5000 });
    const handle = await serve(t.app);
    try {
      const holding = (await hold(handle, t.entered)).response;
      const batch1 = request(handle, { path: '/batch/1' });
      const batch2 = request(handle, { path: '/batch/2' });
      await sleep(50);
      const critical1 = request(handle, { path: '/critical/1' });
      const critical2 = request(handle, { path: '/critical/2' });
      // The queue held 3: the fourth evicted the oldest batch request.
      assert.equal((await batch1).status, 503);
      t.held.open();
      const statuses = await Promise.all([holding, batch2, critical1, critical2]);
      assert.deepEqual(
        statuses.map((r) => r.status),
        [200, 200, 200, 200],
      );
      assert.deepEqual(t.order, ['critical 1', 'critical 2', 'batch 2']);
      assert.deepEqual(t.app.overloadStats()!.shed.byPriority, { batch: 1 });
    } finally {
      t.held.open();
      await handle.close();
    }
  });

  for (const [idleClientMs, expected] of [
    [60_000, ['critical a0', 'critical b1', 'critical a1']],
    [0, ['critical a0', 'critical a1', 'critical b1']],
  ] as const) {
    it(`${idleClientMs === 0 ? 'with idleClientMs: 0, serves in arrival order' : "serves a new connection's request ahead of one sent on a connection right after its answer"} (idleClientMs ${idleClientMs})`, async () => {
      const t = pinned({ idleClientMs, queueTimeoutMs: 5000 });
      const handle = await serve(t.app);
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      try {
        const sockets = new Set<unknown>();
        agent.on('free', (socket) => sockets.add(socket));
        assert.equal((await request(handle, { path: '/critical/a0', agent })).status, 200);
        const holding = (await hold(handle, t.entered)).response;
        // The same kept-alive connection, its previous answer within idleClientMs: it loops.
        const a1 = request(handle, { path: '/critical/a1', agent });
        await queued(t.app, 1);
        // A new connection, queued after it.
        const b1 = request(handle, { path: '/critical/b1' });
        await queued(t.app, 2);
        t.held.open();
        assert.deepEqual([(await holding).status, (await a1).status, (await b1).status], [200, 200, 200]);
        assert.deepEqual(t.order, expected);
        assert.equal(sockets.size, 1, 'a0 and a1 went on one connection');
        const { waited, waitedIdle } = t.app.overloadStats()!;
        assert.deepEqual({ waited, waitedIdle }, { waited: 2, waitedIdle: idleClientMs === 0 ? 0 : 1 });
      } finally {
        t.held.open();
        agent.destroy();
        await handle.close();
      }
    });
  }

  it('lets a client that retries at once after a 503, ignoring Retry-After, wait that long again before its next 503', async () => {
    const t = pinned({ queueTimeoutMs: 200, retryAfterSeconds: 1 });
    const handle = await serve(t.app);
    const socket = connect(handle.port, '127.0.0.1');
    try {
      const holding = (await hold(handle, t.entered)).response;
      let received = '';
      socket.on('data', (c) => {
        received += c;
      });
      /** Sends GET /critical/<id> on the kept-alive connection; resolves with the ms until its 503. */
      const shedAfter = async (id: string): Promise<number> => {
        const before = received.length;
        const started = Date.now();
        socket.write(`GET /critical/${id} HTTP/1.1\r\nhost: x\r\n\r\n`);
        for (let i = 0; i < 400 && !received.slice(before).includes('"code":"WEIR_ERR_OVERLOADED"'); i++)
          await sleep(5);
        assert.match(received.slice(before), /^HTTP\/1\.1 503 /);
        return Date.now() - started;
      };
      const first = await shedAfter('r1');
      const retried = await shedAfter('r2');
      assert.ok(first >= 150 && first < 900, `the first waited queueTimeoutMs (${first} ms)`);
      assert.ok(retried >= 1100, `the immediate retry waited queueTimeoutMs + Retry-After (${retried} ms)`);
      // A client that waited before retrying is an idle client again: queueTimeoutMs.
      await sleep(80);
      const patient = await shedAfter('r3');
      assert.ok(patient < 900, `a retry after idleClientMs waited queueTimeoutMs (${patient} ms)`);
      t.held.open();
      assert.equal((await holding).status, 200);
      assert.deepEqual(t.order, []);
    } finally {
      socket.destroy();
      t.held.open();
      await handle.close();
    }
  });

  it('does not count a request pipelined behind another on its connection as an idle client', async () => {
    const t = pinned({ queueTimeoutMs: 5000 });
    const handle = await serve(t.app);
    try {
      const holding = (await hold(handle, t.entered)).response;
      // Two requests in one write on a new connection: the first is a new client's, the second is not.
      const pipelined = raw(
        handle.port,
        'GET /critical/p1 HTTP/1.1\r\nhost: x\r\n\r\nGET /critical/p2 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n',
      );
      await queued(t.app, 2);
      const b1 = request(handle, { path: '/critical/b1' });
      await queued(t.app, 3);
      t.held.open();
      assert.equal((await holding).status, 200);
      assert.equal((await b1).status, 200);
      assert.equal((await pipelined).match(/HTTP\/1\.1 200 /g)?.length, 2);
      assert.deepEqual(t.order, ['critical p1', 'critical b1', 'critical p2']);
      const { waited, waitedIdle } = t.app.overloadStats()!;
      assert.deepEqual({ waited, waitedIdle }, { waited: 3, waitedIdle: 2 });
    } finally {
      t.held.open();
      await handle.close();
    }
  });

  it('never queues or sheds a route marked shed: false, and answers a new connection at once while the slot is held', async () => {
    const t = pinned({ maxQueue: 0 });
    const handle = await serve(t.app);
    try {
      const holding = (await hold(handle, t.entered)).response;
      const started = Date.now();
      const health = await request(handle, { path: '/healthz' });
      assert.equal(health.status, 200);
      const refused = await request(handle, { path: '/critical/x' });
      assert.equal(refused.status, 503, 'no queue: a request over the limit is refused at once');
      assert.ok(Date.now() - started < 1000);
      t.held.open();
      await holding;
      assert.equal((await request(handle, { path: '/critical/y' })).status, 200);
    } finally {
      t.held.open();
      await handle.close();
    }
  });

  it('does not shed a saturating but stable load: 200 concurrent clients on a route whose latency rises with concurrency', async () => {
    const app = new App({ logger: false });
    app.get('/work', async () => {
      await sleep(1);
      const until = process.hrtime.bigint() + 100_000n;
      while (process.hrtime.bigint() < until) {
        // 0.1 ms of CPU
      }
      return 'done';
    });
    const handle = await serve(app);
    try {
      // The clients run in a process of their own (kept-alive connections, one each, so all 200 are
      // connected and busy): in this one, their work would be counted as the server's.
      const load = spawnNode([
        new URL('../fixtures/closed-loop.mjs', import.meta.url).pathname,
        `http://127.0.0.1:${handle.port}/work`,
        '200',
        '10',
      ]);
      assert.equal(await load.exited(), 0);
      const result = JSON.parse(load.output()) as { statuses: Record<string, number> };
      const stats = app.overloadStats()!;
      const seen = `${load.output().trim()} ${JSON.stringify(stats)}`;
      assert.deepEqual(result.statuses, { 200: 2000 }, seen);
      assert.equal(stats.shed.total, 0, seen);
      assert.ok(stats.waited > 0, 'requests waited for a slot: the limit was below 200');
      assert.ok(stats.limit >= 4 && stats.limit < 200, seen);
    } finally {
      await handle.close();
    }
  });

  it('lets in what waited behind its start-up probe when the probe ends, though the process stalled past it', async () => {
    // A new app holds its limit at minLimit (4) for its first 200 ms. Sixteen requests wait behind the
    // four it lets in; then the process stalls twice for 600 ms (a GC pause, a starved CPU). The probe
    // ends during the first stall and the queue is looked at after it, 600 ms after its backlog began:
    // that time is not a rate. Read as one (nothing served), it turned the queue newest-first with every
    // request stale, held them back, and the second stall carried them past their timeout: all 16 shed.
    const { app, held, entered } = probingApp();
    try {
      // inject(): all twenty reach the limiter in this turn of the loop, before the probe's timer can end it.
      const responses = Array.from({ length: 20 }, () => inject(app, { url: '/hold' }));
      await queued(app, 16);
      assert.equal(entered(), 4, 'the probe lets four in');
      let stalls = 0;
      const stall = setInterval(() => {
        const until = performance.now() + 600;
        while (performance.now() < until) {
          // the process stalls
        }
        if (++stalls === 2) clearInterval(stall);
      }, 5);
      for (let i = 0; i < 400 && entered() < 20; i++) await sleep(5);
      const stats = app.overloadStats()!;
      assert.equal(entered(), 20, `all twenty run: ${JSON.stringify(stats)}`);
      assert.equal(stats.shed.total, 0);
      held.open();
      for (const res of await Promise.all(responses)) assert.equal(res.status, 200);
    } finally {
      held.open();
      await app.stop();
    }
  });

  it('lets in what waited behind its start-up probe when the probe timer reads the clock a moment early', async (t) => {
    // Node's timers count from the loop's cached time, so the timer that ends the probe can read
    // performance.now() a little before the probe's end; it then looks again. Here readings alternate
    // between 10 ms late and true, so its first reading is early and the next one past the end. The
    // probe used to be ended by that second reading without letting anyone in (and with no timer left):
    // the sixteen waited out their timeout and were shed, a process with 60 free slots answering 503.
    const { app, held, entered } = probingApp();
    try {
      const responses = Array.from({ length: 20 }, () => inject(app, { url: '/hold' }));
      await queued(app, 16);
      assert.equal(entered(), 4, 'the probe lets four in');
      const real = performance.now.bind(performance);
      let readings = 0;
      t.mock.method(performance, 'now', () => (readings++ % 2 === 0 ? real() - 10 : real()));
      for (let i = 0; i < 200 && entered() < 20; i++) await sleep(5);
      const stats = app.overloadStats()!;
      t.mock.restoreAll();
      assert.equal(entered(), 20, `all twenty run: ${JSON.stringify(stats)}`);
      assert.equal(stats.shed.total, 0);
      held.open();
      for (const res of await Promise.all(responses)) assert.equal(res.status, 200);
    } finally {
      t.mock.restoreAll();
      held.open();
      await app.stop();
    }
  });

  it('raises the pressure state while shedding and lowers it a second after the last shed', async () => {
    const t = pinned({ maxQueue: 0 });
    const handle = await serve(t.app);
    try {
      const holding = (await hold(handle, t.entered)).response;
      assert.equal(pressure.raised, false);
      assert.equal((await request(handle, { path: '/critical/x' })).status, 503);
      assert.equal(pressure.raised, true);
      assert.equal(t.app.overloadStats()!.shedding, true);
      t.held.open();
      await holding;
      const calmAt = Date.now();
      await pressure.calm();
      const after = Date.now() - calmAt;
      assert.ok(after >= 800 && after < 3000, `calm after ${after} ms`);
    } finally {
      t.held.open();
      await handle.close();
    }
  });

  it('is off with overload: false', async () => {
    const app = new App({ logger: false, overload: false });
    app.get('/', () => 'ok');
    const handle = await serve(app);
    try {
      assert.equal((await request(handle, {})).status, 200);
      assert.equal(app.overloadStats(), undefined);
    } finally {
      await handle.close();
    }
  });

  it('refuses a bad route priority or shed flag, naming it', () => {
    const app = new App({ logger: false });
    assert.throws(() => app.get('/a', { priority: 'urgent' as 'batch' }, () => 1), /route priority/);
    assert.throws(() => app.get('/b', { priority: 1001 }, () => 1), /route priority/);
    assert.throws(() => app.get('/c', { shed: 'no' as unknown as boolean }, () => 1), /route shed/);
    assert.throws(() => new App({ overload: { maxQueue: -1 } }), /overload\.maxQueue/);
  });
});
