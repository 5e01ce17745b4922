import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Sqlite from 'better-sqlite3';
import { openDatabase, type SqliteDatabase } from 'weir/db';
import { spawnTs } from '../helpers/process.ts';
import { runClientErrorSuite } from './client-errors.ts';
import { runDatabaseSuite } from './conformance.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-sqlite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

runDatabaseSuite(
  'sqlite',
  { open: () => openDatabase(`sqlite:${join(dir, 'conformance.db')}`) },
  { skip: false },
);

runClientErrorSuite(
  'sqlite',
  {
    open: (logger) => openDatabase(`sqlite:${join(dir, 'client-errors.db')}`, { logger }),
    async broken(logger) {
      const db = await openDatabase(`sqlite:${join(dir, 'read-only.db')}`, { logger });
      await db.execScript(
        'CREATE TABLE IF NOT EXISTS secret_accounts (k TEXT PRIMARY KEY, j TEXT, score INTEGER)',
      );
      // The file can no longer be written, as on a read-only or failing disk: SQLITE_READONLY.
      (db as SqliteDatabase).connection.pragma('query_only = ON');
      return { db, hidden: [dir, 'read-only'], logged: /readonly database/, cleanup: () => db.close() };
    },
    hidden: [dir, 'client-errors.db', 'sqlite'],
  },
  { skip: false },
);

describe('SQLite specifics', () => {
  test('creates the file and its folder, in WAL mode', async () => {
    const path = join(dir, 'nested', 'deeper', 'x.db');
    const db = await openDatabase(`sqlite:${path}`);
    try {
      assert.ok(existsSync(path));
      assert.deepEqual(await db.one`PRAGMA journal_mode`, { journal_mode: 'wal' });
    } finally {
      await db.close();
    }
  });

  // A new file is in rollback mode until its first opener switches it to WAL. While another connection
  // holds its write lock (another worker creating it at the same moment), SQLite refuses the switch at
  // once instead of waiting: the open waits for the lock, within busyTimeoutMs.
  function lockedNewFile(name: string): { path: string; holder: Sqlite.Database } {
    const path = join(dir, name);
    const holder = new Sqlite(path);
    holder.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    assert.equal(holder.pragma('journal_mode', { simple: true }), 'delete');
    holder.exec('BEGIN IMMEDIATE');
    holder.exec('INSERT INTO t (id) VALUES (1)');
    return { path, holder };
  }

  test('an open that meets another connection creating the file waits for its write lock, then is in WAL mode', async () => {
    const { path, holder } = lockedNewFile('created-at-once.db');
    const released = new Promise<void>((resolve) =>
      setTimeout(() => {
        holder.exec('COMMIT');
        resolve();
      }, 150),
    );
    const started = performance.now();
    const db = await openDatabase(`sqlite:${path}`);
    try {
      assert.ok(performance.now() - started >= 100, 'the open waited for the lock');
      await released;
      assert.deepEqual(await db.one`PRAGMA journal_mode`, { journal_mode: 'wal' });
      assert.equal((await db.query`SELECT * FROM t`).length, 1);
    } finally {
      await db.close();
      holder.close();
    }
  });

  test('an open still locked out after busyTimeoutMs is refused with WEIR_ERR_DB_UNAVAILABLE saying so', async () => {
    const { path, holder } = lockedNewFile('locked-out.db');
    try {
      const err = await openDatabase(`sqlite:${path}`, { busyTimeoutMs: 60 }).then(
        () => assert.fail('expected the open to be refused'),
        (e: { code?: string; message?: string }) => e,
      );
      assert.equal(err.code, 'WEIR_ERR_DB_UNAVAILABLE');
      assert.match(err.message ?? '', /is unavailable: database is locked/);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
  });

  test('a writer that waits past busyTimeoutMs gets WEIR_ERR_DB_RETRY (503)', async () => {
    const path = join(dir, 'busy.db');
    const a = await openDatabase(`sqlite:${path}`);
    const b = await openDatabase(`sqlite:${path}`, { busyTimeoutMs: 20 });
    try {
      await a.execScript('CREATE TABLE t (id INTEGER PRIMARY KEY)');
      let release!: () => void;
      const held = a.transaction(async (tx) => {
        await tx.exec`INSERT INTO t (id) VALUES (${1})`;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
      });
      await new Promise((r) => setImmediate(r));
      const err = await b.exec`INSERT INTO t (id) VALUES (${2})`.then(
        () => assert.fail('expected a busy error'),
        (e: { code?: string; status?: number }) => e,
      );
      assert.equal(err.code, 'WEIR_ERR_DB_RETRY');
      assert.equal(err.status, 503);
      release();
      await held;
      await b.exec`INSERT INTO t (id) VALUES (${2})`;
      assert.equal((await a.query`SELECT * FROM t`).length, 2);
    } finally {
      await a.close();
      await b.close();
    }
  });

  test('several processes writing one file at once lose no write', async () => {
    const path = join(dir, 'shared.db');
    const setup = await openDatabase(`sqlite:${path}`);
    await setup.execScript(
      'CREATE TABLE hit (writer INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (writer, n))',
    );
    await setup.close();
    const writers = 4;
    const each = 150;
    const children = Array.from({ length: writers }, (_, w) =>
      spawnTs(new URL('../fixtures/sqlite-writer.ts', import.meta.url), {
        DATABASE_URL: `sqlite:${path}`,
        WRITER: String(w),
        COUNT: String(each),
      }),
    );
    const codes = await Promise.all(children.map((c) => c.exited()));
    assert.deepEqual(codes, Array(writers).fill(0), children.map((c) => c.output()).join('\n'));
    const db = await openDatabase(`sqlite:${path}`);
    try {
      const { n } = await db.one<{ n: number }>`SELECT count(*) AS n FROM hit`;
      assert.equal(n, writers * each);
      const perWriter = await db.query<{ writer: number; n: number }>`
        SELECT writer, count(*) AS n FROM hit GROUP BY writer ORDER BY writer`;
      assert.deepEqual(
        perWriter,
        Array.from({ length: writers }, (_, w) => ({ writer: w, n: each })),
      );
    } finally {
      await db.close();
    }
  });
});
