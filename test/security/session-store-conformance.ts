/**
 * The SessionStore conformance suite: memory, SQLite, PostgreSQL and Redis each run it. `open()` gives a
 * store of its own (a fresh namespace: a new Map, database file, PostgreSQL database or Redis prefix),
 * closed by the suite; what it leaves behind is the caller's to remove.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { SessionRecord, SessionStore } from 'weir/security';

export interface SessionStoreTarget {
  open(): Promise<SessionStore>;
}

/** A record that lives for `ttlMs` (negative: expired already). */
export function record(data: string, ttlMs = 60_000, createdAt = Date.now()): SessionRecord {
  return { data, createdAt, expiresAt: Date.now() + ttlMs };
}

/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs`. */
export async function until(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
    await delay(10);
  }
}

/** Keys that mean something to SQL (LIKE, quotes) or to Redis (glob): each must stay a plain key. */
export const HOSTILE_KEYS = [
  '*',
  'a*',
  '?',
  '[ab]',
  '\\',
  '%',
  'a%',
  '_',
  "a'b",
  'a"b',
  "'; DROP TABLE weir_sessions; --",
  'with space',
  'é🔑',
  '',
];

export function runSessionStoreSuite(
  name: string,
  target: SessionStoreTarget,
  options: { skip: string | false },
): void {
  describe(`SessionStore conformance: ${name}`, { skip: options.skip }, () => {
    let store: SessionStore;
    const opened: SessionStore[] = [];
    const open = async (): Promise<SessionStore> => {
      const s = await target.open();
      opened.push(s);
      return s;
    };
    before(async () => {
      store = await open();
    });
    after(async () => {
      for (const s of opened) await s.close();
    });

    test('set then get returns the record; a key never set is undefined', async () => {
      assert.equal(typeof store.backend, 'string');
      assert.equal(typeof store.url, 'string');
      const r = record('{"user":1}', 60_000, 1_700_000_000_000);
      await store.set('round-trip', r);
      assert.deepEqual(await store.get('round-trip'), r);
      assert.equal(await store.get('never-set'), undefined);
    });

    test('set replaces the whole record under a key', async () => {
      await store.set('replace', record('"first"', 60_000, 1));
      const second = record('"second"', 120_000, 2);
      await store.set('replace', second);
      assert.deepEqual(await store.get('replace'), second);
    });

    test('replace writes over a live record only: never a deleted, expired or never-set one', async () => {
      await store.set('only-live', record('"first"', 60_000, 1));
      const second = record('"second"', 120_000, 2);
      assert.equal(await store.replace('only-live', second), true);
      assert.deepEqual(await store.get('only-live'), second);
      await store.delete('only-live');
      assert.equal(await store.replace('only-live', second), false);
      assert.equal(await store.get('only-live'), undefined, 'a deleted record stays deleted');
      assert.equal(await store.replace('never-there', second), false);
      assert.equal(await store.get('never-there'), undefined);
      await store.set('stale', record('"old"', -1));
      assert.equal(await store.replace('stale', second), false);
      assert.equal(await store.get('stale'), undefined);
    });

    test('touch moves the expiry, and the record outlives its old one', async () => {
      const first = record('"t"', 300);
      await store.set('touch', first);
      const later = Date.now() + 60_000;
      await store.touch('touch', later);
      assert.ok(Date.now() < first.expiresAt, 'set and touch took longer than the 300 ms the test allows');
      assert.deepEqual(await store.get('touch'), { ...first, expiresAt: later });
      await delay(first.expiresAt - Date.now() + 50);
      assert.deepEqual(await store.get('touch'), { ...first, expiresAt: later });
    });

    test('touch never brings back a deleted, expired or never-set key', async () => {
      await store.set('gone', record('"x"'));
      await store.delete('gone');
      await store.touch('gone', Date.now() + 60_000);
      assert.equal(await store.get('gone'), undefined);
      await store.touch('never', Date.now() + 60_000);
      assert.equal(await store.get('never'), undefined);
      const short = record('"y"', 40);
      await store.set('lapsed', short);
      await until(async () => (await store.get('lapsed')) === undefined, 2000, 'the record expiring');
      await store.touch('lapsed', Date.now() + 60_000);
      assert.equal(await store.get('lapsed'), undefined);
    });

    test('touch to a time already past ends the session', async () => {
      await store.set('end', record('"e"'));
      await store.touch('end', Date.now() - 1);
      assert.equal(await store.get('end'), undefined);
    });

    test('delete removes the record, and deleting a missing key is no error', async () => {
      await store.set('del', record('"d"'));
      await store.delete('del');
      assert.equal(await store.get('del'), undefined);
      await store.delete('del');
      await store.delete('never-there');
    });

    test('a record whose expiresAt has passed is not returned, nor counted', async () => {
      const own = await open();
      await own.set('past', record('"p"', -1));
      assert.equal(await own.get('past'), undefined);
      await own.set('replaced-by-past', record('"live"'));
      await own.set('replaced-by-past', record('"dead"', -1000));
      assert.equal(await own.get('replaced-by-past'), undefined);
      // Long enough that a stalled machine still counts it before it expires.
      await own.set('soon', record('"s"', 300));
      assert.equal(await own.size(), 1);
      await until(async () => (await own.get('soon')) === undefined, 2000, 'the record expiring');
      assert.equal(await own.size(), 0);
    });

    test('size counts the live records', async () => {
      const own = await open();
      assert.equal(await own.size(), 0);
      for (const key of ['s1', 's2', 's3']) await own.set(key, record(`"${key}"`));
      await own.set('s1', record('"again"'));
      assert.equal(await own.size(), 3);
      await own.delete('s2');
      assert.equal(await own.size(), 2);
    });

    test('concurrent sets of different keys all land', async () => {
      const keys = Array.from({ length: 100 }, (_, i) => `concurrent-${i}`);
      await Promise.all(keys.map((key) => store.set(key, record(JSON.stringify(key)))));
      const got = await Promise.all(keys.map((key) => store.get(key)));
      assert.deepEqual(
        got.map((r) => r?.data),
        keys.map((key) => JSON.stringify(key)),
      );
    });

    test('a 64 KiB data string with quotes, escapes and astral characters round-trips', async () => {
      const data = JSON.stringify({ blob: `é🔑"'\\\n${'x'.repeat(64 * 1024)}` });
      await store.set('large', record(data));
      assert.equal((await store.get('large'))?.data, data);
    });

    test('keys with SQL and glob characters are plain keys: none matches, or deletes, another', async () => {
      const own = await open();
      await own.set('ab', record('"ab"'));
      await own.set('a1', record('"a1"'));
      for (const key of HOSTILE_KEYS)
        assert.equal(await own.get(key), undefined, `get(${JSON.stringify(key)})`);
      for (const key of HOSTILE_KEYS) await own.set(key, record(JSON.stringify(key)));
      for (const key of HOSTILE_KEYS) assert.equal((await own.get(key))?.data, JSON.stringify(key));
      assert.equal(await own.size(), HOSTILE_KEYS.length + 2);
      for (const key of HOSTILE_KEYS) await own.delete(key);
      assert.equal(await own.size(), 2);
      assert.equal((await own.get('ab'))?.data, '"ab"');
      assert.equal((await own.get('a1'))?.data, '"a1"');
    });

    test('a record no backend could keep as given is refused', async () => {
      const bad = { data: '{}', createdAt: Date.now(), expiresAt: Date.now() + 0.5 };
      await assert.rejects(store.set('bad', bad), { code: 'WEIR_ERR_INVALID_OPTION' });
      await assert.rejects(store.set('bad', { ...bad, expiresAt: Date.now() + 1000, data: 1 as never }), {
        code: 'WEIR_ERR_INVALID_OPTION',
      });
      await assert.rejects(store.touch('bad', Number.NaN), { code: 'WEIR_ERR_INVALID_OPTION' });
    });

    test('after close(), every operation rejects with WEIR_ERR_SESSION_STORE; close() again is fine', async () => {
      const own = await open();
      await own.set('k', record('"k"'));
      await own.close();
      await own.close();
      const closed = { code: 'WEIR_ERR_SESSION_STORE', message: /closed/ };
      await assert.rejects(own.get('k'), closed);
      await assert.rejects(own.set('k', record('"k"')), closed);
      await assert.rejects(own.touch('k', Date.now() + 1000), closed);
      await assert.rejects(own.delete('k'), closed);
      await assert.rejects(own.size(), closed);
    });
  });
}
