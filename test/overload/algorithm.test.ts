import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptiveLimit, RouteLatency } from '../../src/overload/limit.ts';
import { overloadSettings } from '../../src/overload/options.ts';
import { type Waiter, WaitQueue } from '../../src/overload/queue.ts';

/**
 * A closed loop against a route whose latency rises with concurrency, as a CPU-bound one does: 1.25 ms
 * alone (a 1 ms wait and 0.25 ms of CPU), and 0.25 ms more per request running beside it. Returns the
 * limits of the last `tail` windows.
 */
function converge(settings = overloadSettings(), windows = 400, tail = 100): number[] {
  const limit = new AdaptiveLimit(settings);
  const route = new RouteLatency();
  const seen: number[] = [];
  let now = 0;
  for (let w = 0; w < windows; w++) {
    const inFlight = limit.limit; // saturated: every slot is taken
    const latency = Math.max(1.25, 0.25 * inFlight);
    for (let i = 0; i < 20; i++) {
      now += settings.windowMs / 20;
      limit.sample(latency, route, inFlight, now);
    }
    if (w >= windows - tail) seen.push(limit.limit);
  }
  return seen;
}

describe('the adaptive limit', () => {
  it('settles within a band where latency stays near the tolerance, for a route whose latency rises with concurrency', () => {
    const seen = converge();
    // Latency 2 × 1.25 ms is reached at 10 in flight: the limit hovers around there, never at the ends.
    assert.ok(Math.min(...seen) >= 5, `limit fell to ${Math.min(...seen)}`);
    assert.ok(Math.max(...seen) <= 16, `limit rose to ${Math.max(...seen)}`);
  });

  it('grows to its ceiling while latency does not rise (an I/O-bound route far from saturation)', () => {
    const s = overloadSettings({ maxLimit: 500 });
    const limit = new AdaptiveLimit(s);
    const route = new RouteLatency();
    let now = 0;
    for (let w = 0; w < 200 && limit.limit < 500; w++) {
      for (let i = 0; i < 20; i++, now += 5) limit.sample(50, route, limit.limit, now);
    }
    assert.equal(limit.limit, 500);
  });

  it('grows while requests wait and the event loop has idle time, unless latency says a downstream is saturated', () => {
    const grown = (ratio: number): number => {
      const limit = new AdaptiveLimit(overloadSettings({ initialLimit: 16 }), () => 0.6);
      const route = new RouteLatency();
      let now = 0;
      for (let i = 0; i < 20; i++, now += 1) limit.sample(2, route, 1, now, true); // the first probe
      for (let w = 0; w < 20; w++) {
        for (let i = 0; i < 20; i++, now += 5) limit.sample(2 * ratio, route, limit.limit, now, true);
      }
      return limit.limit;
    };
    assert.ok(grown(5) > 16, `limit ${grown(5)}: idle time and waiting requests, latency 5× no-load`);
    assert.ok(grown(40) < 16, `limit ${grown(40)}: latency 40× no-load is a saturated downstream`);
  });

  it('ends a probe on time even when no request finishes (all of them wait on something)', () => {
    const limit = new AdaptiveLimit(overloadSettings());
    assert.equal(limit.limit, 4, 'it starts with a probe at minLimit');
    limit.tick(1000);
    assert.equal(limit.tick(1100), false);
    assert.equal(limit.tick(1201), true);
    assert.equal(limit.limit, 64);
  });

  it('does not grow while the limit is not in use (fewer than half its slots taken)', () => {
    const limit = new AdaptiveLimit(overloadSettings({ initialLimit: 64 }));
    const route = new RouteLatency();
    let now = 0;
    for (let i = 0; i < 2000; i++, now += 5) limit.sample(1, route, 5, now);
    assert.equal(limit.limit, 64);
  });

  it('shrinks by a tenth a window on drops, never below minLimit', () => {
    const limit = new AdaptiveLimit(overloadSettings({ initialLimit: 100, minLimit: 7 }));
    const route = new RouteLatency();
    for (let i = 0; i < 20; i++) limit.sample(1, route, 1, i); // the first probe
    assert.equal(limit.probing, false);
    limit.drop(1000);
    assert.equal(limit.limit, 90);
    for (let t = 2000; t < 100_000; t += 200) limit.drop(t);
    assert.equal(limit.limit, 7);
  });

  it("judges latency against each route's own no-load latency, so fast and slow routes mixed read as unloaded", () => {
    const limit = new AdaptiveLimit(overloadSettings({ initialLimit: 20 }));
    const fast = new RouteLatency();
    const slow = new RouteLatency();
    let now = 0;
    for (let i = 0; i < 400; i++) {
      now += 5;
      const [route, ms] = i % 2 === 0 ? [fast, 0.2] : [slow, 80];
      limit.sample(ms, route, limit.limit, now);
    }
    assert.ok(limit.limit > 20, `limit ${limit.limit} shrank on a mix of unloaded routes`);
  });
});

function waiter(
  priority: number,
  since: number,
  alive = true,
  idle = false,
  retry = false,
): Waiter & { id: string } {
  const id = `${priority}@${since}${idle ? ' idle' : ''}${retry ? ' retry' : ''}`;
  return { id, priority, idle, retry, since, alive: () => alive };
}

describe('the wait queue', () => {
  it('serves the highest class first, first-in first-out while waits are short', () => {
    const q = new WaitQueue<ReturnType<typeof waiter>>(100, 1000, 300);
    for (const w of [waiter(100, 0), waiter(200, 1), waiter(300, 2), waiter(200, 3)]) q.push(w);
    assert.deepEqual(
      [q.next(10), q.next(10), q.next(10), q.next(10)].map((w) => w?.id),
      ['300@2', '200@1', '200@3', '100@0'],
    );
    assert.equal(q.size, 0);
  });

  it('serves the newest first once the oldest has waited lifoAfterMs, and the oldest again once the queue has emptied', () => {
    const q = new WaitQueue<ReturnType<typeof waiter>>(100, 1000, 300);
    for (let t = 0; t < 5; t++) q.push(waiter(200, t * 10));
    assert.equal(q.next(100)?.id, '200@0');
    assert.equal(q.next(400)?.id, '200@40', 'the oldest has waited 390 ms: newest first');
    assert.equal(q.lifo, true);
    q.push(waiter(200, 390));
    assert.equal(q.next(420)?.id, '200@390');
    // The backlog stands: still LIFO until the queue is empty, then FIFO again.
    assert.equal(q.next(420)?.id, '200@30');
    assert.equal(q.next(420)?.id, '200@20');
    assert.equal(q.lifo, true);
    assert.equal(q.next(420)?.id, '200@10');
    assert.equal(q.lifo, false, 'it turned back as it emptied');
    assert.equal(q.next(420), undefined);
    const fresh = new WaitQueue<ReturnType<typeof waiter>>(100, 1000, 300);
    fresh.push(waiter(200, 1000));
    fresh.push(waiter(200, 1001));
    assert.equal(fresh.next(1100)?.id, '200@1000');
  });

  /**
   * A closed set of `clients` against a server that serves `perMs` waiting requests a ms once it starts,
   * `stallMs` in (a pause: a GC, a neighbour on the core); each client sends again as soon as it has its
   * answer, or its 503. Returns the requests that waited out the timeout, the longest wait of a served
   * one after `settleMs`, and whether the queue ended newest-first.
   */
  function closedLoop(
    clients: number,
    perMs: number,
    stallMs: number,
    untilMs: number,
    settleMs = 0,
    staleAfterMs = Number.POSITIVE_INFINITY,
  ) {
    const q = new WaitQueue<ReturnType<typeof waiter>>(100_000, 1000, 300, { staleAfterMs });
    for (let c = 0; c < clients; c++) q.push(waiter(200, 0));
    let expired = 0;
    let longest = 0;
    let credit = 0;
    for (let now = stallMs; now <= untilMs; now++) {
      for (const w of q.expire(now).expired) {
        expired++;
        q.push(waiter(200, now));
        assert.ok(w.since <= now - 1000);
      }
      for (credit += perMs; credit >= 1; credit--) {
        // As the limiter runs it: stale requests are served once none has arrived for a moment.
        const w = q.next(now, true);
        if (w === undefined) break;
        if (now >= settleMs) longest = Math.max(longest, now - w.since);
        q.push(waiter(200, now));
      }
    }
    return { expired, longest, lifo: q.lifo };
  }

  it('turns back to first-in first-out while a short backlog stands: a closed set of clients is not left to time out', () => {
    // 60 clients, 0.5 served a ms: in order, each waits 120 ms. A 400 ms stall makes the oldest wait
    // past lifoAfterMs, so the queue serves newest first until the rate is known again; it must then go
    // back to serving in order, and nobody waits out the 1 s timeout (newest-first until the queue
    // empties, which a closed set of clients never lets happen, starved the oldest until they did).
    const run = closedLoop(60, 0.5, 400, 5000, 2000);
    assert.equal(run.expired, 0);
    assert.equal(run.lifo, false);
    assert.ok(run.longest <= 200, `served waits settle near 120 ms (longest ${run.longest} ms)`);
  });

  it('stays newest-first while the backlog would take longer than lifoAfterMs to serve in order', () => {
    // 2,000 clients, 3 served a ms: in order, each would wait ~670 ms. Newest first, and the oldest time out.
    const run = closedLoop(2000, 3, 0, 5000, 2000);
    assert.equal(run.lifo, true);
    assert.ok(run.expired > 0);
    // Nor does it turn first-in first-out for a moment when a cohort expires at once and the backlog
    // dips before their clients send again: that would serve requests that waited most of a second.
    assert.ok(run.longest < 500, `served waits stay short (longest ${run.longest} ms)`);
  });

  it('while newest-first, never serves a stale request while fresher ones arrive: served waits stay under staleAfterMs', () => {
    // The same 2,000 clients from their first request (the rate not yet known): newest-first once the
    // oldest has waited staleAfterMs (100 ms), not lifoAfterMs, and a request that sank under newer ones
    // for 100 ms is left to its timeout rather than served (without staleAfterMs: hundreds of ms).
    const run = closedLoop(2000, 3, 0, 5000, 0, 100);
    assert.equal(run.lifo, true);
    assert.ok(run.expired > 0);
    assert.ok(run.longest <= 100, `served waits stay under 100 ms (longest ${run.longest} ms)`);
    assert.ok(closedLoop(2000, 3, 0, 5000).longest > 250, 'without it, served waits reach lifoAfterMs');
    // A closed set of 60 clients, whose backlog drains quickly, is still served in order.
    const small = closedLoop(60, 0.5, 400, 5000, 2000, 100);
    assert.equal(small.expired, 0);
    assert.equal(small.lifo, false);
  });

  it('while the limit probes (served slowly on purpose), neither turns newest-first nor counts that time in its rate', () => {
    // 60 clients in a closed loop, served 0.5 a ms (in order, each waits ~120 ms), but for their first
    // 300 ms at 0.05 a ms: the limit probing at its floor, as it does when a process starts under load.
    // What waited through the probe is then served in order, and nobody waits out the timeout; the
    // same start read as the process's own rate turns the queue newest-first, which holds back every
    // request that waited through the probe (stale) for as long as fresher ones keep coming.
    const run = (probeAware: boolean) => {
      let probing = true;
      const q = new WaitQueue<ReturnType<typeof waiter>>(100_000, 1000, 300, {
        staleAfterMs: 50,
        ...(probeAware ? { throttledUntil: () => (probing ? Number.POSITIVE_INFINITY : 300) } : {}),
      });
      for (let c = 0; c < 60; c++) q.push(waiter(200, 0));
      let expired = 0;
      let wentLifo = false;
      let credit = 0;
      for (let now = 1; now <= 3000; now++) {
        probing = now < 300;
        for (const _ of q.expire(now).expired) {
          expired++;
          q.push(waiter(200, now));
        }
        for (credit += probing ? 0.05 : 0.5; credit >= 1; credit--) {
          const w = q.next(now, true);
          if (w === undefined) break;
          q.push(waiter(200, now));
        }
        wentLifo ||= q.lifo;
      }
      return { expired, wentLifo };
    };
    assert.deepEqual(run(true), { expired: 0, wentLifo: false });
    assert.equal(run(false).wentLifo, true, 'the probe read as the rate turns the queue newest-first');
  });

  it('does not take a backlog that began during a probe, first looked at after it, for a rate of nothing served', () => {
    // The limit probes (nothing is served: its few slots are held), then its probe ends while the process
    // stalls, and the queue is next looked at 600 ms after its backlog began: that time is the probe's and
    // the stall's, not a rate. Read as one (0 served in 600 ms), the queue turns newest-first with every
    // request stale, and holds them all back, until their timeout if the stall outlasts it.
    const run = (probeAware: boolean) => {
      let probedUntil = Number.POSITIVE_INFINITY;
      const q = new WaitQueue<ReturnType<typeof waiter>>(100, 1000, 300, {
        staleAfterMs: 50,
        ...(probeAware ? { throttledUntil: () => probedUntil } : {}),
      });
      for (let t = 0; t < 46; t++) q.push(waiter(200, t));
      probedUntil = 200;
      // The probe's end lets them all in at once (as the limiter's pump does, while slots are free).
      const first = q.next(600)?.id;
      for (let i = 1; i < 46 && q.next(600) !== undefined; i++);
      return { first, lifo: q.lifo, left: q.size };
    };
    assert.deepEqual(run(true), { first: '200@0', lifo: false, left: 0 });
    assert.deepEqual(run(false), { first: undefined, lifo: true, left: 46 });
  });

  it('holds stale requests back while requests keep arriving, and serves them in a lull until the next arrives', () => {
    const q = new WaitQueue<ReturnType<typeof waiter>>(100, 1000, 300, { staleAfterMs: 100 });
    for (let t = 0; t < 5; t++) q.push(waiter(200, t));
    // The oldest has waited 150 ms and the rate is unknown: newest first, but the newest is stale too.
    assert.equal(q.next(150), undefined);
    assert.equal(q.lifo, true);
    assert.equal(q.heldUntil, 14, 'held until 10 ms after the last arrival');
    q.push(waiter(200, 150));
    assert.equal(q.next(151)?.id, '200@150', 'a fresh arrival is served');
    assert.ok(Number.isNaN(q.heldUntil));
    assert.equal(q.next(152), undefined);
    assert.equal(q.heldUntil, 160);
    assert.equal(q.next(155, true), undefined, 'not a lull: a request arrived 5 ms ago');
    assert.equal(q.next(161, true)?.id, '200@4', 'a lull: the newest stale one');
    assert.equal(q.next(162)?.id, '200@3', 'and the next, until a request arrives');
    q.push(waiter(200, 170));
    assert.equal(q.next(171)?.id, '200@170');
    assert.equal(q.next(172), undefined, 'held again');
    assert.equal(q.size, 3);
    // Never ahead of a higher class: a stale critical request is held, not passed by a fresh normal one.
    const classes = new WaitQueue<ReturnType<typeof waiter>>(100, 1000, 300, { staleAfterMs: 100 });
    classes.push(waiter(300, 0));
    classes.push(waiter(200, 145));
    assert.equal(classes.next(150), undefined);
    assert.equal(classes.next(160, true)?.id, '300@0');
    assert.equal(classes.next(161)?.id, '200@145');
  });

  it('expires what waited timeoutMs, drops the unanswerable, and says when the next expires', () => {
    const q = new WaitQueue<ReturnType<typeof waiter>>(100, 1000, 300);
    q.push(waiter(200, 0));
    q.push(waiter(200, 10, false));
    q.push(waiter(100, 500));
    const { expired, nextAt } = q.expire(1005);
    assert.deepEqual(
      expired.map((w) => w.id),
      ['200@0'],
    );
    assert.equal(nextAt, 1500);
    assert.equal(q.size, 1);
  });

  it('when full, turns away the oldest of the lowest class, or the newcomer when its class is lower still', () => {
    const q = new WaitQueue<ReturnType<typeof waiter>>(2, 1000, 300);
    q.push(waiter(100, 0));
    q.push(waiter(200, 1));
    assert.equal(q.push(waiter(300, 2))?.id, '100@0');
    const batch = waiter(100, 3);
    assert.equal(q.push(batch), batch);
    assert.deepEqual([q.next(5)?.id, q.next(5)?.id], ['300@2', '200@1']);
  });

  it("serves an idle client's request ahead of its class's back-to-back ones, never ahead of a higher class", () => {
    const q = new WaitQueue<ReturnType<typeof waiter>>(100, 1000, 300);
    for (const w of [
      waiter(200, 0),
      waiter(200, 1),
      waiter(100, 2, true, true),
      waiter(200, 3, true, true),
      waiter(300, 4),
      waiter(200, 5, true, true),
    ])
      q.push(w);
    assert.deepEqual(
      Array.from({ length: 6 }, () => q.next(10)?.id),
      ['300@4', '200@3 idle', '200@5 idle', '200@0', '200@1', '100@2 idle'],
    );
  });

  it('serves a retry sent right after a 503 behind its class, ahead of lower classes, and lets it wait retryTimeoutMs', () => {
    const q = new WaitQueue<ReturnType<typeof waiter>>(100, 1000, 300, { retryTimeoutMs: 2000 });
    q.push(waiter(200, 0, true, false, true));
    q.push(waiter(200, 1));
    q.push(waiter(100, 2));
    q.push(waiter(200, 3, true, true));
    assert.deepEqual(
      [q.next(5)?.id, q.next(5)?.id, q.next(5)?.id, q.next(5)?.id],
      ['200@3 idle', '200@1', '200@0 retry', '100@2'],
    );
    q.push(waiter(200, 10, true, false, true));
    q.push(waiter(200, 20));
    const first = q.expire(1500);
    assert.deepEqual(
      first.expired.map((w) => w.id),
      ['200@20'],
    );
    assert.equal(first.nextAt, 2010, 'the retry expires at 2,000 ms');
    assert.deepEqual(
      q.expire(2010).expired.map((w) => w.id),
      ['200@10 retry'],
    );
    // When full, a retry is the first turned away to make room.
    const full = new WaitQueue<ReturnType<typeof waiter>>(2, 1000, 300);
    full.push(waiter(200, 0));
    full.push(waiter(200, 1, true, false, true));
    assert.equal(full.push(waiter(200, 2))?.id, '200@1 retry');
  });

  it("when full, turns away a back-to-back request to make room for an idle client's of the same class", () => {
    const q = new WaitQueue<ReturnType<typeof waiter>>(2, 1000, 300);
    q.push(waiter(200, 0, true, true));
    q.push(waiter(200, 1));
    assert.equal(q.push(waiter(200, 2, true, true))?.id, '200@1');
    const looping = waiter(200, 3);
    assert.equal(q.push(looping), looping, 'the newcomer is in the lowest line: it goes itself');
    assert.deepEqual([q.next(5)?.id, q.next(5)?.id], ['200@0 idle', '200@2 idle']);
  });
});

describe('overload options', () => {
  it('refuses bad values, naming the option', () => {
    for (const bad of [
      { minLimit: 0 },
      { maxQueue: -1 },
      { tolerance: 0.5 },
      { queueTimeoutMs: Number.NaN },
      { initialLimit: 1.5 },
      { idleClientMs: -1 },
      { staleAfterMs: 0 },
      { staleAfterMs: '50' as unknown as number },
      { staleAfterMs: Number.POSITIVE_INFINITY },
    ]) {
      assert.throws(
        () => overloadSettings(bad),
        (err: { code?: string; message?: string }) =>
          err.code === 'WEIR_ERR_INVALID_OPTION' && err.message!.includes(`overload.${Object.keys(bad)[0]}`),
      );
    }
    assert.throws(() => overloadSettings({ minLimit: 10, maxLimit: 5 }), /minLimit/);
  });
});
