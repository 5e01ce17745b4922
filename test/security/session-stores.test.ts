import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type Database, openDatabase } from 'weir/db';
import { MemorySessionStore, openSessionStore, type SessionStore, SqlSessionStore } from 'weir/security';
import { freePort } from '../helpers/cluster.ts';
import {
  freshPostgresDatabase,
  postgresSkip,
  REDIS_URL,
  redisSkip,
  uniqueNamespace,
} from '../helpers/services.ts';
import { removePrefixes } from './session-redis.ts';
import { record, runSessionStoreSuite, until } from './session-store-conformance.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-sessions-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const sqliteUrl = () => `sqlite:${join(dir, `sessions-${++files}.db`)}`;

const pgSkip = await postgresSkip();
const pgDrops: (() => Promise<void>)[] = [];
after(async () => {
  for (const drop of pgDrops) await drop();
});
async function postgresUrl(): Promise<string> {
  const fresh = await freshPostgresDatabase('sessions');
  pgDrops.push(fresh.drop);
  return fresh.url;
}

const rSkip = await redisSkip();
const prefixes: string[] = [];
after(() => (rSkip ? undefined : removePrefixes(prefixes)));

runSessionStoreSuite('memory', { open: () => openSessionStore('memory:') }, { skip: false });
runSessionStoreSuite('sqlite', { open: () => openSessionStore(sqliteUrl()) }, { skip: false });
runSessionStoreSuite(
  'postgres',
  { open: async () => openSessionStore(await postgresUrl()) },
  { skip: pgSkip },
);
runSessionStoreSuite(
  'redis',
  {
    open: () => {
      const prefix = `${uniqueNamespace('sessions')}:`;
      prefixes.push(prefix);
      return openSessionStore(REDIS_URL, { prefix });
    },
  },
  { skip: rSkip },
);

describe('openSessionStore', () => {
  test('opens memory: by default, and returns a SessionStore it is given as it is', async () => {
    const store = await openSessionStore();
    assert.equal(store.backend, 'memory');
    assert.ok(store instanceof MemorySessionStore);
    assert.equal(await openSessionStore(store), store);
    await store.close();
  });

  test('refuses what it cannot open, naming what it accepts and never showing a password', async () => {
    for (const target of ['ftp://user:hunter2@example.com/x', 'mysql://u:hunter2@127.0.0.1/db', 'nonsense']) {
      const err = await openSessionStore(target).then(
        () => assert.fail(`${target} opened`),
        (e: Error & { code: string }) => e,
      );
      assert.equal(err.code, 'WEIR_ERR_INVALID_OPTION');
      assert.match(err.message, /memory:.*redis:\/\/.*sqlite:.*postgres:\/\/.*Database.*SessionStore/);
      assert.doesNotMatch(err.message, /hunter2/);
    }
    for (const target of [42, null, () => undefined]) {
      await assert.rejects(openSessionStore(target as never), { code: 'WEIR_ERR_INVALID_OPTION' });
    }
    await assert.rejects(openSessionStore({ get() {}, set() {} } as never), {
      code: 'WEIR_ERR_INVALID_OPTION',
      message: /no touch, delete, size, close method/,
    });
  });

  test('checks each option before it connects', async () => {
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const cases: [string, object][] = [
      ['memory:', { maxSessions: 0 }],
      ['memory:', { maxSessions: 1.5 }],
      [dead, { prefix: '' }],
      [dead, { commandTimeoutMs: -1 }],
      [dead, { connectTimeoutMs: '100' }],
      [sqliteUrl(), { sweepIntervalMs: 0 }],
      [sqliteUrl(), { maxSweepRows: Number.POSITIVE_INFINITY }],
      [sqliteUrl(), { logger: 'loud' }],
    ];
    for (const [url, options] of cases) {
      await assert.rejects(openSessionStore(url, options as never), { code: 'WEIR_ERR_INVALID_OPTION' }, url);
    }
  });
});

describe('memory specifics', () => {
  test('keeps at most maxBytes of session data: big sessions evict the least recently used', async () => {
    const store = new MemorySessionStore({ maxBytes: 10_000 });
    const big = (n: number) => record(JSON.stringify('x'.repeat(n)));
    for (let i = 0; i < 5; i++) await store.set(`k${i}`, big(3000));
    assert.ok((await store.size()) <= 3, `${await store.size()} sessions of 3 KB in 10 KB`);
    assert.ok(await store.get('k4'), 'the newest stays');
    assert.equal(await store.get('k0'), undefined, 'the oldest went');
  });

  test('keeps at most maxSessions: a new one evicts the least recently used', async () => {
    const store = new MemorySessionStore({ maxSessions: 3 });
    for (const key of ['a', 'b', 'c']) await store.set(key, record(`"${key}"`));
    await store.get('a');
    await store.set('d', record('"d"'));
    assert.equal(await store.size(), 3);
    assert.equal(await store.get('b'), undefined, 'b was the least recently used');
    for (const key of ['a', 'c', 'd']) assert.equal((await store.get(key))?.data, `"${key}"`);
    await store.touch('c', Date.now() + 60_000);
    await store.set('e', record('"e"'));
    assert.equal(await store.get('a'), undefined, 'a was the least recently used after c was touched');
    await store.close();
  });
});

/** The SQL cases, on a Database the test owns. */
function sqlSpecifics(name: string, openDb: () => Promise<Database>, skip: string | false): void {
  describe(`${name} specifics`, { skip }, () => {
    const dbs: Database[] = [];
    const stores: SessionStore[] = [];
    after(async () => {
      for (const s of stores) await s.close();
      for (const db of dbs) await db.close();
    });
    const fresh = async () => {
      const db = await openDb();
      dbs.push(db);
      return db;
    };
    const expire = (db: Database, count: number) =>
      db.transaction(async (tx) => {
        for (let i = 0; i < count; i++) {
          await tx.exec`INSERT INTO weir_sessions (key, data, created_at, expires_at) VALUES (${`old-${i}`}, ${'{}'}, ${1}, ${Date.now() - 1000})`;
        }
      });
    const rows = async (db: Database) =>
      (await db.one<{ n: number }>`SELECT count(*) AS n FROM weir_sessions`).n;

    test('a sweep deletes at most maxSweepRows expired rows, and never a live one', async () => {
      const db = await fresh();
      const store = await SqlSessionStore.open(db, { maxSweepRows: 10, sweepIntervalMs: 3_600_000 });
      stores.push(store);
      await expire(db, 25);
      await store.set('live', record('"live"'));
      assert.deepEqual(
        [await store.sweep(), await store.sweep(), await store.sweep(), await store.sweep()],
        [10, 10, 5, 0],
      );
      assert.equal(await rows(db), 1);
      assert.equal((await store.get('live'))?.data, '"live"');
    });

    test('one background run keeps sweeping while its batches come back full', async () => {
      const db = await fresh();
      // A long interval: only the first tick (at 1 s) runs within the test, and it must take all 55 rows.
      stores.push(await SqlSessionStore.open(db, { maxSweepRows: 10, sweepIntervalMs: 1000 }));
      await expire(db, 55);
      await until(async () => (await rows(db)) === 0, 1700, 'one run of batches');
    });

    test('the timer sweeps expired rows by itself', async () => {
      const db = await fresh();
      stores.push(await SqlSessionStore.open(db, { sweepIntervalMs: 20 }));
      await expire(db, 5);
      await until(async () => (await rows(db)) === 0, 5000, 'the background sweep');
    });

    test('a store given a Database leaves it open; a second store on it shares the sessions', async () => {
      const db = await fresh();
      const a = await openSessionStore(db);
      const b = await openSessionStore(db);
      assert.equal(a.backend, db.engine);
      await a.set('shared', record('"s"'));
      assert.equal((await b.get('shared'))?.data, '"s"');
      await a.close();
      await b.close();
      assert.equal(db.closing, false);
      assert.equal(await rows(db), 1);
      const applied = await db.query`SELECT name FROM weir_migrations WHERE name = ${'weir_sessions_1.sql'}`;
      assert.equal(applied.length, 1);
    });

    test('a database failure rejects with WEIR_ERR_SESSION_STORE naming the operation, not the key', async () => {
      const db = await openDb();
      const store = await openSessionStore(db);
      await db.close();
      const err = await store.get('secret-key-7').then(
        () => assert.fail('get answered'),
        (e: Error & { code: string; cause: unknown }) => e,
      );
      assert.equal(err.code, 'WEIR_ERR_SESSION_STORE');
      assert.match(err.message, /could not read a session: WEIR_ERR_DB_CLOSED/);
      assert.doesNotMatch(err.message, /secret-key-7|SELECT/);
      assert.equal((err.cause as { code: string }).code, 'WEIR_ERR_DB_CLOSED');
      await store.close();
    });
  });
}

sqlSpecifics('SQLite', () => openDatabase(sqliteUrl()), false);
sqlSpecifics('PostgreSQL', async () => openDatabase(await postgresUrl()), pgSkip);

describe('SQL stores opened from a URL', () => {
  test('own their database: the table and its migration are there, and close() closes it', async () => {
    const url = sqliteUrl();
    const store = await openSessionStore(url, { logger: false });
    await store.set('k', record('"k"'));
    await store.close();
    const db = await openDatabase(url);
    assert.equal((await db.one<{ n: number }>`SELECT count(*) AS n FROM weir_sessions`).n, 1);
    await db.close();
  });

  test('a PostgreSQL that is not there rejects the open with WEIR_ERR_SESSION_STORE, password hidden', async () => {
    const url = `postgres://app:hunter2@127.0.0.1:${await freePort()}/sessions`;
    const err = await openSessionStore(url).then(
      () => assert.fail('opened'),
      (e: Error & { code: string }) => e,
    );
    assert.equal(err.code, 'WEIR_ERR_SESSION_STORE');
    assert.match(err.message, /app:\*\*\*@127\.0\.0\.1/);
    assert.doesNotMatch(err.message, /hunter2/);
  });
});
