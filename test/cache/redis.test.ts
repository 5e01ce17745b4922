import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { type Cache, openCache } from 'weir/cache';
import { spawnTs } from '../helpers/process.ts';
import { pingRedis, REDIS_URL, redisSkip, uniqueNamespace } from '../helpers/services.ts';
import { runCacheSuite } from './conformance.ts';
import { recordingLogger, until } from './support.ts';

const skip = await redisSkip();
const tieredUrl = `tiered+${REDIS_URL}`;

runCacheSuite('redis', { open: (options) => openCache(REDIS_URL, options) }, { skip });
runCacheSuite('tiered', { open: (options) => openCache(tieredUrl, options) }, { skip });

/** A port nobody listens on (yet). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A redis-server of the test's own, on its own port, that the test may kill. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      await pingRedis(`redis://127.0.0.1:${port}`, 200);
      return child;
    } catch (err) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw err;
      }
      await delay(25);
    }
  }
}

describe('Redis and tiered specifics', { skip }, () => {
  const caches: Cache[] = [];
  after(async () => {
    for (const c of caches) {
      await c.clear().catch(() => undefined);
      await c.close();
    }
  });
  const open = async (url: string, namespace: string, extra = {}) => {
    const cache = await openCache(url, { namespace, logger: false, ...extra });
    caches.push(cache);
    return cache;
  };

  test('across processes, a lock lets one load while the others wait for its value', async () => {
    const namespace = uniqueNamespace('lock');
    // Two caches stand for two processes: their single-flight maps are separate, only Redis is shared.
    const a = await open(REDIS_URL, namespace);
    const b = await open(tieredUrl, namespace);
    let calls = 0;
    const loader = async () => {
      calls++;
      await delay(100);
      return 'loaded once';
    };
    const results = await Promise.all([
      ...Array.from({ length: 20 }, () => a.wrap('herd', loader)),
      ...Array.from({ length: 20 }, () => b.wrap('herd', loader)),
    ]);
    assert.equal(calls, 1);
    assert.ok(results.every((r) => r === 'loaded once'));
  });

  test('add: of 20 claims from each of two processes (plain and tiered), exactly one wins', async () => {
    const namespace = uniqueNamespace('add');
    const a = await open(REDIS_URL, namespace);
    const b = await open(tieredUrl, namespace);
    const wins = await Promise.all([
      ...Array.from({ length: 20 }, (_, i) => a.add('claim', `a${i}`)),
      ...Array.from({ length: 20 }, (_, i) => b.add('claim', `b${i}`)),
    ]);
    assert.equal(wins.filter(Boolean).length, 1);
  });

  test('tiered: the L1 never answers add(): a copy of a key Redis no longer has does not hold it', async () => {
    const namespace = uniqueNamespace('add-l1');
    const tiered = await open(tieredUrl, namespace);
    const plain = await open(REDIS_URL, namespace);
    await tiered.set('k', 'old', { ttl: 60_000 });
    assert.equal(await tiered.get('k'), 'old');
    // A plain Redis cache deletes without telling the tiered one's L1, which still holds 'old'.
    assert.equal(await plain.delete('k'), true);
    assert.equal(await tiered.get('k'), 'old');
    assert.equal(await tiered.add('k', 'claimed'), true);
    assert.equal(await tiered.get('k'), 'claimed', 'the claim dropped the stale L1 copy');
    assert.equal(await plain.get('k'), 'claimed');
  });

  test('a waiter falls back to loading when the lock holder takes longer than lockWaitMs', async () => {
    const namespace = uniqueNamespace('lockwait');
    const a = await open(REDIS_URL, namespace);
    const b = await open(REDIS_URL, namespace, { lockWaitMs: 50 });
    const slow = a.wrap('k', async () => {
      await delay(400);
      return 'slow';
    });
    await delay(20);
    const start = Date.now();
    assert.equal(await b.wrap('k', () => 'fallback'), 'fallback');
    assert.ok(Date.now() - start < 300, 'did not wait for the slow loader');
    assert.equal(await slow, 'slow');
  });

  test('tiered: a value read from Redis is read back and frozen once into the L1, then shared', async () => {
    const namespace = uniqueNamespace('tiered-fill');
    const writer = await open(REDIS_URL, namespace);
    const reader = await open(tieredUrl, namespace);
    const copies = await open(tieredUrl, namespace, { frozen: false });
    await writer.set('row', { id: 7, tags: ['a'] }, { ttl: 60_000 });
    const [first] = await reader.getMany<{ id: number; tags: string[] }>(['row']);
    const second = await reader.get('row');
    const third = await reader.wrap('row', () => ({ id: 0, tags: [] }));
    assert.deepEqual(first, { id: 7, tags: ['a'] });
    assert.ok(first === second && second === third, 'one value shared by every hit');
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first?.tags));
    const [a, b] = [await copies.get('row'), await copies.get('row')];
    assert.deepEqual(a, first);
    assert.notEqual(a, b);
    assert.equal(Object.isFrozen(a), false);
  });

  test("tiered: a write in one process invalidates another process's L1 within 500 ms", async () => {
    const namespace = uniqueNamespace('tiered');
    const writer = await open(tieredUrl, namespace);
    const peer = spawnTs(
      new URL('../fixtures/cache-peer.ts', import.meta.url),
      { CACHE_URL: tieredUrl, CACHE_NAMESPACE: namespace },
      { stdin: true },
    );
    try {
      await peer.waitFor(/ready\n/);
      let seen = 0;
      const read = async (): Promise<unknown> => {
        seen++;
        peer.child.stdin!.write('get k\n');
        const pattern = new RegExp(`(?:.*\\n){${seen + 1}}`);
        const lines = (await peer.waitFor(pattern))[0].trim().split('\n');
        return (JSON.parse(lines[seen] ?? 'null') as { value: unknown }).value;
      };
      await writer.set('k', 'v1', { ttl: 60_000 });
      assert.equal(await read(), 'v1'); // now in the peer's L1, for 60 s unless invalidated
      await writer.set('k', 'v2', { ttl: 60_000 });
      const took = await until(async () => (await read()) === 'v2', 500, 'the invalidation');
      assert.ok(took <= 500);
      await writer.delete('k');
      await until(async () => (await read()) === null, 500, 'the delete');
    } finally {
      peer.child.stdin!.end('quit\n');
      await peer.exited();
    }
  });

  for (const tiered of [false, true]) {
    test(`${tiered ? 'tiered' : 'redis'}: Redis dies mid-test: requests still succeed, and caching resumes when it returns`, async () => {
      const port = await freePort();
      let server = await startRedis(port);
      const log = recordingLogger();
      const url = `${tiered ? 'tiered+' : ''}redis://127.0.0.1:${port}`;
      const cache = await openCache(url, {
        namespace: uniqueNamespace('outage'),
        logger: log,
        commandTimeoutMs: 200,
      });
      try {
        let calls = 0;
        const loader = () => ++calls;
        assert.equal(await cache.wrap('n', loader), 1);
        assert.equal(await cache.wrap('n', loader), 1);
        server.kill('SIGKILL');
        await until(() => cache.status === 'degraded', 2000, 'degraded status');
        // Every call succeeds; plain Redis reloads, tiered still has its L1 copy.
        for (let i = 0; i < 5; i++) {
          const start = Date.now();
          const value = await cache.wrap('m', loader);
          assert.equal(typeof value, 'number');
          assert.ok(Date.now() - start < 250, 'an outage does not make callers wait');
        }
        assert.equal(await cache.get('absent'), undefined);
        await cache.set('during', 1);
        await assert.rejects(cache.add('claim', 1), { code: 'WEIR_ERR_CACHE_UNAVAILABLE' });
        const warnings = log.warnings.filter((w) => w.includes('unavailable'));
        assert.equal(warnings.length, 1, log.warnings.join('\n'));
        server = await startRedis(port);
        await until(() => cache.status === 'ready', 5000, 'recovery');
        assert.ok(log.infos.some((m) => m.includes('answers again')));
        const before = calls;
        assert.equal(await cache.wrap('after', loader), before + 1);
        assert.equal(await cache.wrap('after', loader), before + 1);
        assert.equal(calls, before + 1, 'cached again');
      } finally {
        await cache.close();
        server.kill('SIGKILL');
      }
    });
  }

  test('a Redis that is not there at start: open resolves degraded, and loaders run', async () => {
    const port = await freePort();
    const log = recordingLogger();
    const start = Date.now();
    const cache = await openCache(`redis://:hunter2@127.0.0.1:${port}`, {
      logger: log,
      connectTimeoutMs: 300,
    });
    try {
      assert.ok(Date.now() - start < 2000);
      assert.equal(cache.status, 'degraded');
      assert.equal(await cache.wrap('x', () => 'computed'), 'computed');
      await assert.rejects(cache.add('x', 1), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'WEIR_ERR_CACHE_UNAVAILABLE');
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      });
      assert.equal(log.warnings.length, 1);
      assert.doesNotMatch(log.warnings[0] ?? '', /hunter2/);
      assert.match(cache.url, /\*\*\*/);
    } finally {
      await cache.close();
    }
  });
});
