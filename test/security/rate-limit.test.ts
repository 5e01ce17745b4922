import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App } from 'weir';
import {
  createRateLimiter,
  MemoryRateLimitStore,
  openRateLimitStore,
  type RateLimitStore,
  rateLimit,
} from 'weir/security';
import { inject } from 'weir/testing';
import { gcra } from '../../src/security/rate-limit/store.ts';

type ErrorBody = { error: { code: string; details?: { retryAfterSeconds: number } } };

describe('GCRA', () => {
  const params = { emissionMs: 1000, windowMs: 3000, cost: 1, consume: true };
  it('allows the limit at once, then one per emission interval, never a double burst', () => {
    let tat: number | undefined;
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const step = gcra(tat, 0, params);
      assert.equal(step.decision.allowed, true);
      remaining.push(step.decision.remaining);
      tat = step.tat;
    }
    assert.deepEqual(remaining, [2, 1, 0]);
    const refused = gcra(tat, 0, params);
    assert.equal(refused.decision.allowed, false);
    assert.equal(refused.decision.retryAfterMs, 1000);
    assert.equal(refused.tat, tat, 'a refusal spends nothing');
    assert.equal(gcra(tat, 999, params).decision.allowed, false);
    const later = gcra(tat, 1000, params);
    assert.equal(later.decision.allowed, true);
    assert.equal(later.decision.remaining, 0);
    // After a full window idle, the whole allowance again; a peek spends nothing.
    const peek = gcra(later.tat, 10_000, { ...params, consume: false });
    assert.deepEqual([peek.decision.allowed, peek.decision.remaining, peek.tat], [true, 2, later.tat]);
  });

  it('keeps exact counts with fractional intervals (7 per minute)', () => {
    const p = { emissionMs: 60_000 / 7, windowMs: 60_000, cost: 1, consume: true };
    let tat: number | undefined;
    let allowed = 0;
    for (let i = 0; i < 10; i++) {
      const step = gcra(tat, 5, p);
      if (step.decision.allowed) allowed++;
      tat = step.tat;
    }
    assert.equal(allowed, 7);
  });
});

function app(options: Parameters<typeof rateLimit>[0]) {
  const a = new App({ trustProxy: 1 });
  a.get('/x', rateLimit(options), () => 'ok');
  return a;
}

const hit = (a: App, ip = '10.0.0.1') => inject(a, { url: '/x', headers: { 'x-forwarded-for': ip } });

describe('rateLimit()', () => {
  it('answers 429 with Retry-After past the limit, and the IETF RateLimit fields on every answer', async () => {
    const a = app({ limit: 3, windowMs: 60_000, name: 'api' });
    for (let i = 0; i < 3; i++) {
      const res = await hit(a);
      assert.equal(res.status, 200);
      assert.equal(res.headers['ratelimit-policy'], '"api";q=3;w=60');
      assert.equal(res.headers.ratelimit, `"api";r=${2 - i};t=${(i + 1) * 20}`);
    }
    const refused = await hit(a);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers['retry-after'], '20');
    assert.equal(refused.json<ErrorBody>().error.code, 'WEIR_ERR_RATE_LIMITED');
    assert.equal(refused.json<ErrorBody>().error.details?.retryAfterSeconds, 20);
    assert.equal(refused.headers.ratelimit, '"api";r=0;t=60');
    // Another client has its own allowance.
    assert.equal((await hit(a, '10.0.0.2')).status, 200);
  });

  it('counts an IPv6 client by its /64, and lets a request with no key through uncounted', async () => {
    const a = app({ limit: 1, windowMs: 60_000 });
    assert.equal((await hit(a, '2001:db8:1:2::1')).status, 200);
    assert.equal((await hit(a, '2001:db8:1:2:ffff::9')).status, 429, 'same /64');
    assert.equal((await hit(a, '2001:db8:1:3::1')).status, 200, 'another /64');
    const open = new App();
    open.get(
      '/x',
      rateLimit({ limit: 1, windowMs: 60_000, key: (ctx) => ctx.headers['x-user'] as string | undefined }),
      () => 'ok',
    );
    for (let i = 0; i < 3; i++) assert.equal((await inject(open, { url: '/x' })).status, 200);
    assert.equal((await inject(open, { url: '/x', headers: { 'x-user': 'a' } })).status, 200);
    assert.equal((await inject(open, { url: '/x', headers: { 'x-user': 'a' } })).status, 429);
  });

  it('stacks two policies on one route, each in the fields', async () => {
    const store = new MemoryRateLimitStore();
    const a = new App();
    a.get(
      '/x',
      rateLimit({ name: 'burst', limit: 2, windowMs: 1000, store }),
      rateLimit({ name: 'hour', limit: 100, windowMs: 3_600_000, store }),
      () => 'ok',
    );
    const res = await inject(a, { url: '/x' });
    assert.equal(res.headers['ratelimit-policy'], '"burst";q=2;w=1, "hour";q=100;w=3600');
    assert.equal(res.headers.ratelimit, '"burst";r=1;t=1, "hour";r=99;t=36');
  });

  it('forgets the least recently seen key at maxKeys, and is refused under workers unless allowed', () => {
    const store = new MemoryRateLimitStore({ maxKeys: 2 });
    const limiter = createRateLimiter({ limit: 1, windowMs: 60_000, store });
    return (async () => {
      await limiter.take('a');
      await limiter.take('b');
      await limiter.take('c');
      assert.equal(store.size, 2);
      assert.equal((await limiter.take('a')).allowed, true, 'a was forgotten');
      process.env.WEIR_WORKER_SLOT = '1';
      try {
        assert.throws(() => createRateLimiter({ limit: 1, windowMs: 1000 }), /allowMemoryWithWorkers/);
        assert.doesNotThrow(() =>
          createRateLimiter({ limit: 1, windowMs: 1000, allowMemoryWithWorkers: true }),
        );
      } finally {
        delete process.env.WEIR_WORKER_SLOT;
      }
    })();
  });

  it('fails open or closed when its store fails, logging once per outage', async () => {
    let failing = true;
    const inner = new MemoryRateLimitStore();
    const flaky: RateLimitStore = {
      backend: 'test',
      url: 'test:',
      check: (key, params) =>
        failing ? Promise.reject(new Error('ECONNREFUSED secret-host')) : inner.check(key, params),
      reset: (key) => inner.reset(key),
      close: () => inner.close(),
    };
    const warnings: unknown[] = [];
    const infos: unknown[] = [];
    const logger = {
      error() {},
      debug() {},
      warn: (o: unknown) => warnings.push(o),
      info: (o: unknown) => infos.push(o),
    };
    const open = app({ limit: 1, windowMs: 60_000, store: flaky, logger });
    for (let i = 0; i < 5; i++) {
      const res = await hit(open);
      assert.equal(res.status, 200);
      assert.equal(res.headers.ratelimit, undefined, 'no fields it cannot vouch for');
    }
    assert.equal(warnings.length, 1);
    const closed = app({ limit: 1, windowMs: 60_000, store: flaky, onStoreError: 'closed', logger });
    const refused = await hit(closed);
    assert.equal(refused.status, 503);
    assert.equal(refused.json<ErrorBody>().error.code, 'WEIR_ERR_RATE_LIMIT_UNAVAILABLE');
    assert.ok(refused.headers['retry-after']);
    assert.doesNotMatch(refused.body, /secret-host|ECONNREFUSED/);
    failing = false;
    assert.equal((await hit(open)).status, 200);
    assert.equal((await hit(open)).status, 429, 'counting again');
    assert.equal(infos.length, 1, 'the return is logged once');
  });

  it('checks its options and refuses unknown store URLs without echoing a password', async () => {
    for (const bad of [
      { limit: 0, windowMs: 1000 },
      { limit: 1, windowMs: 0 },
      { limit: 1, windowMs: 1000, name: 'a b' },
      { limit: 1, windowMs: 1000, onStoreError: 'maybe' },
    ]) {
      assert.throws(() => rateLimit(bad as never), { code: 'WEIR_ERR_INVALID_OPTION' }, JSON.stringify(bad));
    }
    await assert.rejects(
      openRateLimitStore('postgres://u:hunter2@h/db'),
      (err: Error) => !err.message.includes('hunter2'),
    );
  });
});
