import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { openSessionStore, type SessionStore } from 'weir/security';
import { startProxy } from '../db/tcp-proxy.ts';
import { freePort } from '../helpers/cluster.ts';
import { REDIS_URL, redisSkip, uniqueNamespace } from '../helpers/services.ts';
import { within } from '../helpers/time.ts';
import { redisProxy, removePrefixes } from './session-redis.ts';
import { record, until } from './session-store-conformance.ts';

const skip = await redisSkip();

/** The error `work` rejects with; fails if it resolves. */
async function failure(work: Promise<unknown>): Promise<Error & { code: string; cause?: unknown }> {
  return work.then(
    () => assert.fail('resolved'),
    (err: Error & { code: string }) => err,
  );
}

describe('Redis session store specifics', { skip }, () => {
  const prefixes: string[] = [];
  const stores: SessionStore[] = [];
  let raw: Redis;
  before(async () => {
    raw = new Redis(REDIS_URL, { lazyConnect: true });
    await raw.connect();
  });
  after(async () => {
    for (const store of stores) await store.close();
    await removePrefixes(prefixes);
    raw.disconnect();
  });
  const open = async (url = REDIS_URL, options: object = {}, prefix = `${uniqueNamespace('sessions')}:`) => {
    prefixes.push(prefix);
    const store = await openSessionStore(url, { prefix, ...options });
    stores.push(store);
    return { store, prefix };
  };

  test('a Redis that is not there fails the open at once, with the password hidden', async () => {
    const url = `redis://app:hunter2@127.0.0.1:${await freePort()}/0`;
    const err = await within(failure(openSessionStore(url)), 1500, 'the open failing');
    assert.equal(err.code, 'WEIR_ERR_SESSION_STORE');
    assert.match(
      err.message,
      /Redis session store at redis:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/0 could not connect/,
    );
    assert.doesNotMatch(`${err.message} ${String(err.cause)}`, /hunter2/);
  });

  test('a Redis that accepts but never answers fails the open after connectTimeoutMs', async () => {
    const stalled = await startProxy({ host: '127.0.0.1', port: 6379 }, { stall: () => true });
    try {
      const err = await within(
        failure(openSessionStore(`redis://127.0.0.1:${stalled.port}`, { connectTimeoutMs: 200 })),
        2000,
        'the open failing',
      );
      assert.equal(err.code, 'WEIR_ERR_SESSION_STORE');
      assert.match(err.message, /could not connect: no answer within 200 ms/);
    } finally {
      await stalled.close();
    }
  });

  test('when Redis hangs or goes away, get() rejects instead of answering "no session", then recovers', async () => {
    const proxy = await redisProxy();
    let back: Awaited<ReturnType<typeof redisProxy>> | undefined;
    try {
      const { store } = await open(proxy.url(), { commandTimeoutMs: 200 });
      await store.set('k', record('"k"'));
      assert.equal((await store.get('k'))?.data, '"k"');

      proxy.freeze();
      const hung = await within(failure(store.get('k')), 2000, 'get() failing on a hung Redis');
      assert.equal(hung.code, 'WEIR_ERR_SESSION_STORE');
      assert.match(hung.message, /could not read a session: Command timed out/);

      await proxy.close();
      const commands = [
        () => store.get('k'),
        () => store.set('k', record('"x"')),
        () => store.touch('k', Date.now() + 1000),
      ];
      for (const command of commands) {
        const down = await within(failure(command()), 2000, 'a command failing on a Redis that is down');
        assert.equal(down.code, 'WEIR_ERR_SESSION_STORE');
      }

      back = await redisProxy(proxy.port);
      await until(
        async () => (await store.get('k').catch(() => undefined))?.data === '"k"',
        10_000,
        'reconnecting',
      );
    } finally {
      await proxy.close().catch(() => undefined);
      await back?.close();
    }
  });

  test('touch rewrites the stored expiresAt and the key expiry together', async () => {
    const { store, prefix } = await open();
    const first = record('{"a":1}', 5000);
    await store.set('t', first);
    assert.ok((await raw.pttl(`${prefix}t`)) <= 5000);
    const later = Date.now() + 600_000;
    await store.touch('t', later);
    assert.ok((await raw.pttl(`${prefix}t`)) > 500_000);
    assert.deepEqual(JSON.parse((await raw.get(`${prefix}t`)) ?? ''), { ...first, expiresAt: later });
  });

  test("the key expires on Redis's clock at the record's expiresAt, so size() never counts what get() no longer returns", async () => {
    const { store, prefix } = await open();
    const expiry = async (key: string) => Number(await raw.call('PEXPIRETIME', `${prefix}${key}`));
    const first = record('"x"', 60_000);
    await store.set('x', first);
    // Redis drops a key once its clock is past the expiry; get() once this clock reaches expiresAt.
    assert.equal(await expiry('x'), first.expiresAt - 1);
    const replaced = record('"y"', 120_000);
    assert.equal(await store.replace('x', replaced), true);
    assert.equal(await expiry('x'), replaced.expiresAt - 1);
    const later = Date.now() + 600_000;
    await store.touch('x', later);
    assert.equal(await expiry('x'), later - 1);
  });

  test('a value under a key that is not a record rejects, naming neither key nor value', async () => {
    const { store, prefix } = await open();
    await raw.set(`${prefix}secret-key-9`, 'garbage-value', 'PX', 60_000);
    for (const command of [
      () => store.get('secret-key-9'),
      () => store.touch('secret-key-9', Date.now() + 60_000),
    ]) {
      const err = await failure(command());
      assert.equal(err.code, 'WEIR_ERR_SESSION_STORE');
      assert.doesNotMatch(err.message, /secret-key-9|garbage-value/);
      // ioredis keeps the command on its error: still there, but not in what a logger serialises.
      assert.doesNotMatch(JSON.stringify(err.cause ?? {}), /secret-key-9|garbage-value/);
    }
  });

  test('size() counts only its own prefix, glob characters in it included', async () => {
    const namespace = uniqueNamespace('sessions');
    prefixes.push(`${namespace}`);
    const { store } = await open(REDIS_URL, {}, `${namespace}*[?]:`);
    await raw.set(`${namespace}x]:other`, 'not ours', 'PX', 60_000);
    await raw.set(`${namespace}*[?]`, 'not ours either', 'PX', 60_000);
    await store.set('mine', record('"m"'));
    assert.equal(await store.size(), 1);
  });

  test('two stores on the same prefix share the sessions, as processes do', async () => {
    const { store: a, prefix } = await open();
    const { store: b } = await open(REDIS_URL, {}, prefix);
    await a.set('shared', record('"s"'));
    assert.equal((await b.get('shared'))?.data, '"s"');
    await b.delete('shared');
    assert.equal(await a.get('shared'), undefined);
  });
});
