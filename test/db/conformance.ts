/**
 * The Database conformance suite: every engine's test file runs it against a fresh database of its own.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { gather } from 'weir';
import { type Database, migrate } from 'weir/db';

export interface SuiteTarget {
  /** Opens the database under test (a fresh one). */
  open(): Promise<Database>;
  /** Removes what `open` created, after the database is closed. */
  cleanup?(): Promise<void>;
}

const SCHEMA = `
  DROP TABLE IF EXISTS pet;
  DROP TABLE IF EXISTS person;
  CREATE TABLE person (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, age INTEGER CHECK (age >= 0));
  CREATE TABLE pet (id INTEGER PRIMARY KEY, owner INTEGER NOT NULL REFERENCES person (id), name TEXT);
`;

async function rejectsWith(promise: Promise<unknown>, code: string, status?: number): Promise<Error> {
  const err = await promise.then(
    () => assert.fail(`expected ${code}, the query succeeded`),
    (e: unknown) => e as Error & { code?: string; status?: number },
  );
  assert.equal((err as { code?: string }).code, code, String(err));
  if (status !== undefined) assert.equal((err as { status?: number }).status, status);
  return err;
}

export function runDatabaseSuite(name: string, target: SuiteTarget, options: { skip: string | false }): void {
  describe(`Database conformance: ${name}`, { skip: options.skip }, () => {
    let db: Database;
    before(async () => {
      db = await target.open();
    });
    after(async () => {
      await db?.close();
      await target.cleanup?.();
    });
    beforeEach(async () => {
      await db.execScript(SCHEMA);
    });

    test('stores a hostile string as data, never as SQL', async () => {
      const evil = "'; DROP TABLE person; --";
      await db.exec`INSERT INTO person (id, name) VALUES (${1}, ${evil})`;
      const row = await db.one<{ name: string }>`SELECT name FROM person WHERE name = ${evil}`;
      assert.equal(row.name, evil);
      assert.equal((await db.query`SELECT id FROM person`).length, 1);
    });

    test('round-trips numbers, text, null, booleans, bytes and dates', async () => {
      await db.execScript(
        'DROP TABLE IF EXISTS kinds; CREATE TABLE kinds (i INTEGER, t TEXT, b BYTEA, f BOOLEAN, d TEXT)'.replace(
          'BYTEA',
          db.engine === 'sqlite' ? 'BLOB' : 'BYTEA',
        ),
      );
      const when = new Date('2026-01-02T03:04:05.678Z');
      await db.exec`INSERT INTO kinds (i, t, b, f, d) VALUES (${42}, ${'héllo'}, ${Buffer.from([0, 1, 255])}, ${true}, ${when.toISOString()})`;
      await db.exec`INSERT INTO kinds (i, t, b, f, d) VALUES (${null}, ${null}, ${null}, ${false}, ${null})`;
      const rows = await db.query<{ i: number | null; t: string | null; b: Buffer | null; f: unknown }>`
        SELECT i, t, b, f FROM kinds ORDER BY i`;
      const full = rows.find((r) => r.i !== null);
      assert.equal(full?.i, 42);
      assert.equal(full?.t, 'héllo');
      assert.deepEqual([...(full?.b ?? [])], [0, 1, 255]);
      assert.ok(full?.f === true || full?.f === 1);
      const empty = rows.find((r) => r.i === null);
      assert.equal(empty?.t, null);
      assert.ok(empty?.f === false || empty?.f === 0);
      const count = await db.one<{ n: number }>`SELECT count(*) AS n FROM kinds`;
      assert.equal(count.n, 2, 'count(*) comes back as a number');
    });

    test('one() answers 404 on no row; one() and maybeOne() refuse several rows', async () => {
      await db.exec`INSERT INTO person (id, name) VALUES (${1}, ${'a'}), (${2}, ${'b'})`;
      assert.equal(await db.maybeOne`SELECT * FROM person WHERE id = ${3}`, undefined);
      await rejectsWith(db.one`SELECT * FROM person WHERE id = ${3}`, 'WEIR_ERR_DB_NOT_FOUND', 404);
      await rejectsWith(db.one`SELECT * FROM person`, 'WEIR_ERR_DB_TOO_MANY_ROWS');
      await rejectsWith(db.maybeOne`SELECT * FROM person`, 'WEIR_ERR_DB_TOO_MANY_ROWS');
    });

    test('exec() reports the rows it touched', async () => {
      await db.exec`INSERT INTO person (id, name) VALUES (${1}, ${'a'}), (${2}, ${'b'}), (${3}, ${'c'})`;
      assert.deepEqual(await db.exec`UPDATE person SET age = ${7} WHERE id >= ${2}`, { rowCount: 2 });
      assert.deepEqual(await db.exec`DELETE FROM person WHERE id = ${99}`, { rowCount: 0 });
    });

    test('a transaction commits when its function resolves', async () => {
      const result = await db.transaction(async (tx) => {
        await tx.exec`INSERT INTO person (id, name) VALUES (${1}, ${'a'})`;
        await tx.exec`INSERT INTO pet (id, owner, name) VALUES (${1}, ${1}, ${'rex'})`;
        return 'done';
      });
      assert.equal(result, 'done');
      assert.equal((await db.query`SELECT * FROM pet`).length, 1);
    });

    test('a transaction rolls back everything when its function throws, and rethrows', async () => {
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.exec`INSERT INTO person (id, name) VALUES (${1}, ${'a'})`;
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.deepEqual(await db.query`SELECT * FROM person`, []);
    });

    test('a nested transaction is a savepoint: its rollback keeps the outer work', async () => {
      await db.transaction(async (tx) => {
        await tx.exec`INSERT INTO person (id, name) VALUES (${1}, ${'kept'})`;
        await assert.rejects(
          tx.transaction(async (inner) => {
            await inner.exec`INSERT INTO person (id, name) VALUES (${2}, ${'dropped'})`;
            throw new Error('inner fails');
          }),
        );
        await tx.transaction(async (inner) => {
          await inner.exec`INSERT INTO person (id, name) VALUES (${3}, ${'also kept'})`;
        });
      });
      const names = (await db.query<{ name: string }>`SELECT name FROM person ORDER BY id`).map(
        (r) => r.name,
      );
      assert.deepEqual(names, ['kept', 'also kept']);
    });

    test('a query outside a running transaction does not see its uncommitted writes', async () => {
      let release!: () => void;
      const hold = new Promise<void>((resolve) => {
        release = resolve;
      });
      let inserted!: () => void;
      const didInsert = new Promise<void>((resolve) => {
        inserted = resolve;
      });
      const tx = db.transaction(async (t) => {
        await t.exec`INSERT INTO person (id, name) VALUES (${1}, ${'pending'})`;
        inserted();
        await hold;
      });
      await didInsert;
      if (db.engine === 'postgres') {
        // Another connection answers from the last committed state.
        assert.deepEqual(await db.query`SELECT * FROM person`, []);
        release();
      } else {
        // One connection: the outside query waits for the transaction to end, and sees its result.
        const outside = db.query`SELECT * FROM person`;
        await new Promise((resolve) => setImmediate(resolve));
        release();
        assert.equal((await outside).length, 1);
      }
      await tx;
      assert.equal((await db.query`SELECT * FROM person`).length, 1);
    });

    test('a write made outside a running transaction is kept when the transaction rolls back', async () => {
      let release!: () => void;
      const hold = new Promise<void>((resolve) => {
        release = resolve;
      });
      let inserted!: () => void;
      const didInsert = new Promise<void>((resolve) => {
        inserted = resolve;
      });
      const tx = db.transaction(async (t) => {
        await t.exec`INSERT INTO person (id, name) VALUES (${1}, ${'inside'})`;
        inserted();
        await hold;
        throw new Error('rolled back');
      });
      await didInsert;
      const outside = db.exec`INSERT INTO person (id, name) VALUES (${2}, ${'outside'})`;
      await new Promise((resolve) => setImmediate(resolve));
      release();
      await assert.rejects(tx, /rolled back/);
      assert.deepEqual(await outside, { rowCount: 1 });
      const names = (await db.query<{ name: string }>`SELECT name FROM person`).map((r) => r.name);
      assert.deepEqual(names, ['outside']);
    });

    test('a duplicate key is WEIR_ERR_DB_UNIQUE_VIOLATION (409), with the engine code kept', async () => {
      await db.exec`INSERT INTO person (id, name) VALUES (${1}, ${'a'})`;
      const err = await rejectsWith(
        db.exec`INSERT INTO person (id, name) VALUES (${2}, ${'a'})`,
        'WEIR_ERR_DB_UNIQUE_VIOLATION',
        409,
      );
      assert.match(String((err as { engineCode?: string }).engineCode), /23505|SQLITE_CONSTRAINT_UNIQUE/);
    });

    test('a dangling reference is WEIR_ERR_DB_FOREIGN_KEY_VIOLATION (422)', async () => {
      await rejectsWith(
        db.exec`INSERT INTO pet (id, owner, name) VALUES (${1}, ${404}, ${'stray'})`,
        'WEIR_ERR_DB_FOREIGN_KEY_VIOLATION',
        422,
      );
    });

    test('NOT NULL and CHECK refusals are WEIR_ERR_DB_CONSTRAINT_VIOLATION (422)', async () => {
      await rejectsWith(
        db.exec`INSERT INTO person (id, name) VALUES (${1}, ${null})`,
        'WEIR_ERR_DB_CONSTRAINT_VIOLATION',
        422,
      );
      await rejectsWith(
        db.exec`INSERT INTO person (id, name, age) VALUES (${1}, ${'x'}, ${-1})`,
        'WEIR_ERR_DB_CONSTRAINT_VIOLATION',
        422,
      );
    });

    test('bad SQL is WEIR_ERR_DB_QUERY, pointing at the caller, with SQL and values kept out of logs', async () => {
      const secret = 'hunter2';
      const err = await rejectsWith(
        db.query`SELECT * FROM no_such_table WHERE x = ${secret}`,
        'WEIR_ERR_DB_QUERY',
      );
      assert.equal(
        (err as { status?: number }).status,
        undefined,
        'not an HttpError: the client sees a plain 500',
      );
      assert.match(err.stack ?? '', /conformance\.ts/);
      assert.match(String((err as { sql?: string }).sql), /no_such_table/);
      assert.deepEqual((err as { params?: unknown[] }).params, [secret]);
      assert.doesNotMatch(JSON.stringify(err), /hunter2|no_such_table WHERE/);
    });

    test('an undefined value is refused with WEIR_ERR_DB_PARAM', async () => {
      const value = undefined as unknown as null;
      const err = await rejectsWith(
        db.query`SELECT * FROM person WHERE name = ${value}`,
        'WEIR_ERR_DB_PARAM',
      );
      assert.match(err.message, /\$1 is undefined/);
    });

    test('an aborted signal rejects with its reason and runs nothing', async () => {
      const controller = new AbortController();
      controller.abort(new Error('gone'));
      await assert.rejects(
        db.with(controller).exec`INSERT INTO person (id, name) VALUES (${1}, ${'a'})`,
        /gone/,
      );
      await assert.rejects(
        db
          .with(controller)
          .transaction(async (tx) => tx.exec`INSERT INTO person (id, name) VALUES (${1}, ${'a'})`),
        /gone/,
      );
      assert.deepEqual(await db.query`SELECT * FROM person`, []);
    });

    test('a deadline that has passed runs nothing: WEIR_ERR_DEADLINE_EXCEEDED', async () => {
      const past = db.with({ deadline: Date.now() - 1 });
      await assert.rejects(past.exec`INSERT INTO person (id, name) VALUES (${1}, ${'a'})`, {
        code: 'WEIR_ERR_DEADLINE_EXCEEDED',
      });
      await assert.rejects(
        past.transaction(async (tx) => tx.exec`INSERT INTO person (id, name) VALUES (${2}, ${'b'})`),
        { code: 'WEIR_ERR_DEADLINE_EXCEEDED' },
      );
      await assert.rejects(past.execScript("INSERT INTO person (id, name) VALUES (3, 'c')"), {
        code: 'WEIR_ERR_DEADLINE_EXCEEDED',
      });
      assert.deepEqual(await db.query`SELECT * FROM person`, []);
      // A deadline still ahead changes nothing.
      const ahead = db.with({ deadline: Date.now() + 10_000 });
      await ahead.exec`INSERT INTO person (id, name) VALUES (${4}, ${'d'})`;
      assert.equal((await ahead.one<{ n: number }>`SELECT count(*) AS n FROM person`).n, 1);
      await db.exec`DELETE FROM person`;
    });

    test('many concurrent queries each get their own answer', async () => {
      await db.transaction(async (tx) => {
        for (let id = 1; id <= 50; id++)
          await tx.exec`INSERT INTO person (id, name, age) VALUES (${id}, ${`p${id}`}, ${id * 2})`;
      });
      const ids = Array.from({ length: 200 }, (_, i) => 1 + ((i * 7) % 50));
      const rows = await gather(
        ids.map(
          (id) => () => db.one<{ id: number; age: number }>`SELECT id, age FROM person WHERE id = ${id}`,
        ),
        { limit: 32 },
      );
      rows.forEach((row, i) => {
        assert.equal(row.id, ids[i]);
        assert.equal(row.age, row.id * 2);
      });
    });

    describe('migrations', () => {
      let dir: string;
      beforeEach(async () => {
        dir = mkdtempSync(join(tmpdir(), 'weir-migrations-'));
        mkdirSync(join(dir, db.engine));
        await db.execScript(
          'DROP TABLE IF EXISTS weir_migrations; DROP TABLE IF EXISTS m_two; DROP TABLE IF EXISTS m_one',
        );
      });
      afterEach(async () => {
        await db.execScript(
          'DROP TABLE IF EXISTS weir_migrations; DROP TABLE IF EXISTS m_two; DROP TABLE IF EXISTS m_one',
        );
      });
      const file = (name: string, sql: string) => writeFileSync(join(dir, db.engine, name), sql);

      test('applies files in numeric order once, and skips them on the next run', async () => {
        file(
          '10_two.sql',
          'CREATE TABLE m_two (id INTEGER PRIMARY KEY, one_id INTEGER REFERENCES m_one (id));',
        );
        file('2_one.sql', 'CREATE TABLE m_one (id INTEGER PRIMARY KEY); INSERT INTO m_one (id) VALUES (1);');
        file('notes.txt', 'ignored');
        assert.deepEqual(await migrate(db, { dir }), { applied: ['2_one.sql', '10_two.sql'], skipped: [] });
        assert.deepEqual(await migrate(db, { dir }), { applied: [], skipped: ['2_one.sql', '10_two.sql'] });
        assert.equal((await db.query`SELECT * FROM m_one`).length, 1, 'the seed row was inserted once');
      });

      test('a failing file applies nothing of itself and names the file', async () => {
        file('1_one.sql', 'CREATE TABLE m_one (id INTEGER PRIMARY KEY);');
        file('2_bad.sql', 'CREATE TABLE m_two (id INTEGER PRIMARY KEY); INSERT INTO nowhere VALUES (1);');
        const err = await rejectsWith(migrate(db, { dir }), 'WEIR_ERR_DB_MIGRATION');
        assert.match(err.message, /2_bad\.sql/);
        assert.equal((await db.query`SELECT name FROM weir_migrations`).length, 1);
        await rejectsWith(db.query`SELECT * FROM m_two`, 'WEIR_ERR_DB_QUERY');
      });

      test("a failing file's error gives the operator the database's own reason", async () => {
        file(
          '1_dup.sql',
          'CREATE TABLE m_one (id INTEGER PRIMARY KEY); INSERT INTO m_one (id) VALUES (1), (1);',
        );
        const err = await rejectsWith(migrate(db, { dir }), 'WEIR_ERR_DB_MIGRATION');
        assert.match(
          err.message,
          /1_dup\.sql failed: A row with the same id already exists \((UNIQUE constraint failed: m_one\.id|duplicate key value)/,
        );
      });

      test('an applied file that was edited fails the run', async () => {
        file('1_one.sql', 'CREATE TABLE m_one (id INTEGER PRIMARY KEY);');
        await migrate(db, { dir });
        file('1_one.sql', 'CREATE TABLE m_one (id INTEGER PRIMARY KEY, extra TEXT);');
        const err = await rejectsWith(migrate(db, { dir }), 'WEIR_ERR_DB_MIGRATION');
        assert.match(err.message, /1_one\.sql changed/);
      });

      test('concurrent runs apply each file once', async () => {
        file('1_one.sql', 'CREATE TABLE m_one (id INTEGER PRIMARY KEY); INSERT INTO m_one (id) VALUES (1);');
        const runs = await Promise.all([migrate(db, { dir }), migrate(db, { dir }), migrate(db, { dir })]);
        assert.equal(runs.flatMap((r) => r.applied).length, 1);
        assert.equal((await db.query`SELECT * FROM m_one`).length, 1);
      });
    });

    test('close() waits, then further queries reject with WEIR_ERR_DB_CLOSED', async () => {
      const other = await target.open();
      const running = other.query`SELECT 1 AS one`;
      const closed = other.close();
      assert.equal(other.closing, true);
      assert.deepEqual(await running, [{ one: 1 }]);
      await closed;
      await rejectsWith(other.query`SELECT 1`, 'WEIR_ERR_DB_CLOSED');
    });
  });
}
