/**
 * Migrations: an ordered folder of SQL files per engine (`<dir>/sqlite/*.sql`, `<dir>/postgres/*.sql`),
 * applied in name order (numeric-aware: `2_x.sql` before `10_y.sql`).
 *
 * Guarantees:
 * - Each file runs inside its own transaction together with the row that records it in
 *   `weir_migrations`: it is applied entirely, once, or not at all.
 * - Several processes migrating at once (every worker of `weir serve --workers N` at start) apply each
 *   file once: PostgreSQL serialises them on an advisory lock, SQLite on its write lock (BEGIN IMMEDIATE),
 *   and each re-checks the record after taking the lock.
 * - A file whose content changed after it was applied fails the run (`WEIR_ERR_DB_MIGRATION`), since the
 *   database no longer matches the code.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WeirError } from '../errors.ts';
import type { Database, Queryable } from './database.ts';
import { operatorMessage } from './errors.ts';

/** Options of {@link migrate}. */
export interface MigrateOptions {
  /** The folder holding one subfolder per engine. @default './migrations' */
  dir?: string;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  /** Files applied by this run, in order. */
  readonly applied: string[];
  /** Files that were applied before. */
  readonly skipped: string[];
}

// Any fixed 64-bit number: the advisory lock that serialises migrating processes on PostgreSQL.
const LOCK_KEY = 7_366_213_012;
const FILE_NAME = /^[\w.-]+\.sql$/;

/**
 * Applies the migration files of `db.engine` not applied yet.
 * @throws `WEIR_ERR_DB_MIGRATION` naming the file that failed (nothing of that file is applied), or
 *   whose content changed since it was applied.
 * @example
 * const db = await openDatabase(process.env.DATABASE_URL);
 * await migrate(db, { dir: new URL('./migrations', import.meta.url).pathname });
 */
export async function migrate(db: Database, options: MigrateOptions = {}): Promise<MigrateResult> {
  const folder = join(options.dir ?? './migrations', db.engine);
  const files = await migrationFiles(folder);
  const result: MigrateResult = { applied: [], skipped: [] };
  for (const name of files) {
    const sql = await readFile(join(folder, name), 'utf8');
    const checksum = createHash('sha256').update(sql).digest('hex');
    try {
      const applied = await db.transaction((tx) => applyOnce(db, tx, name, sql, checksum));
      (applied ? result.applied : result.skipped).push(name);
    } catch (err) {
      if (err instanceof WeirError && err.code === 'WEIR_ERR_DB_MIGRATION') throw err;
      throw new WeirError(
        'WEIR_ERR_DB_MIGRATION',
        `Migration ${join(folder, name)} failed: ${operatorMessage(err)}`,
        {
          cause: err,
        },
      );
    }
  }
  return result;
}

async function migrationFiles(folder: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(folder);
  } catch (err) {
    throw new WeirError(
      'WEIR_ERR_DB_MIGRATION',
      `Cannot read the migrations folder ${folder}: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  return inNameOrder(names.filter((name) => FILE_NAME.test(name)));
}

/**
 * Names in the order of `localeCompare(b, 'en', { numeric: true })` (`2_x.sql` before `10_y.sql`). When
 * every name starts with its own number (`0001_init.sql`), that order is the numbers' (and one name needs
 * no order), and no collator is built: making one costs ~10 ms of a start, and `localeCompare` with a
 * locale made one per comparison.
 */
export function inNameOrder(names: string[]): string[] {
  if (names.length < 2) return names;
  const numbers = names.map((name) => /^(\d{1,15})[_.-]/.exec(name)?.[1]);
  const distinct = new Set(numbers.map(Number));
  if (numbers.every((n) => n !== undefined) && distinct.size === names.length) {
    return names
      .map((name, i) => ({ name, n: Number(numbers[i]) }))
      .sort((a, b) => a.n - b.n)
      .map((entry) => entry.name);
  }
  const { compare } = new Intl.Collator('en', { numeric: true });
  return names.sort(compare);
}

/** Inside one transaction: lock, record table, check, apply, record. True when it applied the file. */
async function applyOnce(
  db: Database,
  tx: Queryable,
  name: string,
  sql: string,
  checksum: string,
): Promise<boolean> {
  if (db.engine === 'postgres') await tx.exec`SELECT pg_advisory_xact_lock(${LOCK_KEY})`;
  await tx.execScript(
    `CREATE TABLE IF NOT EXISTS weir_migrations (
       name TEXT PRIMARY KEY,
       checksum TEXT NOT NULL,
       applied_at TEXT NOT NULL
     )`,
  );
  const done = await tx.maybeOne<{
    checksum: string;
  }>`SELECT checksum FROM weir_migrations WHERE name = ${name}`;
  if (done !== undefined) {
    if (done.checksum !== checksum) {
      throw new WeirError(
        'WEIR_ERR_DB_MIGRATION',
        `Migration ${name} changed after it was applied: add a new migration file instead of editing it`,
      );
    }
    return false;
  }
  await tx.execScript(sql);
  await tx.exec`INSERT INTO weir_migrations (name, checksum, applied_at) VALUES (${name}, ${checksum}, ${new Date().toISOString()})`;
  return true;
}
