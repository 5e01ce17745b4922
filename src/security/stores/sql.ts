/**
 * The SQL session store: one row per session in `weir_sessions`, on a weir `Database` (SQLite or
 * PostgreSQL). The table comes from a migration weir ships (`../migrations/<engine>/weir_sessions_1.sql`),
 * applied when the store opens and recorded in `weir_migrations` beside the application's own, so that
 * several processes opening at once create it once.
 *
 * Reads ignore expired rows; a timer deletes them in bounded batches, so that no sweep holds a lock for
 * long. Every database error rejects with `WEIR_ERR_SESSION_STORE`, its message naming the operation and
 * the database's error code, never SQL or a value (those stay on the cause, non-enumerable).
 */
import { fileURLToPath } from 'node:url';
import type { Database } from '../../db/database.ts';
import { migrate } from '../../db/migrations.ts';
import { invalidOption, isWeirError } from '../../errors.ts';
import { defaultLogger, type Logger, silentLogger } from '../../internal/logger.ts';
import { checkRecord, checkTime, closedError, integerOption, sessionStoreError } from './errors.ts';
import type { SessionRecord, SessionStore } from './store.ts';

/** Settings of the SQL store. */
export interface SqlSessionStoreOptions {
  /** How often expired rows are deleted. @default 60_000 */
  sweepIntervalMs?: number;
  /** The most rows one sweep deletes, so that it never holds a long lock; the rest wait for the next. @default 1000 */
  maxSweepRows?: number;
  /** Where a failed background sweep is reported (the next one retries), or `false`. @default pino, `weir.sessions` */
  logger?: Logger | false;
}

// Found beside the compiled file too: the build copies src/**/*.sql into dist/.
const MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

/** The options of a SQL store, checked and with their defaults. */
export interface Settings {
  readonly sweepIntervalMs: number;
  readonly maxSweepRows: number;
  readonly logger: Logger | false | undefined;
}

function nameOf(db: Database): string {
  return `the ${db.engine} session store at ${db.url}`;
}

interface Row {
  data: string;
  created_at: number;
  expires_at: number;
}

/** A line for the operator that names what failed without quoting SQL or values: the error's code. */
function reasonOf(err: unknown): string {
  if (isWeirError(err)) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'the database failed';
}

/** Sessions in a SQL database, shared by every process that opens it. */
export class SqlSessionStore implements SessionStore {
  readonly backend: 'sqlite' | 'postgres';
  readonly url: string;
  readonly #db: Database;
  readonly #ownsDatabase: boolean;
  readonly #maxSweepRows: number;
  #logger: Logger | undefined;
  readonly #name: string;
  readonly #timer: NodeJS.Timeout;
  #sweeping: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  private constructor(db: Database, settings: Settings, ownsDatabase: boolean) {
    this.backend = db.engine;
    this.url = db.url;
    this.#db = db;
    this.#ownsDatabase = ownsDatabase;
    this.#maxSweepRows = settings.maxSweepRows;
    this.#logger = settings.logger === false ? silentLogger : settings.logger;
    this.#name = nameOf(db);
    this.#timer = setInterval(() => this.#sweepInBackground(), settings.sweepIntervalMs).unref();
  }

  /**
   * Opens the store on `db`, creating its table if needed. With `ownsDatabase`, `close()` closes `db`
   * too; otherwise the caller keeps it, and closes it after the store.
   * @throws `WEIR_ERR_INVALID_OPTION` for a bad option; `WEIR_ERR_SESSION_STORE` when the table cannot
   *   be created (the cause is the migration's `WEIR_ERR_DB_MIGRATION`).
   */
  static async open(
    db: Database,
    options: SqlSessionStoreOptions = {},
    ownsDatabase = false,
  ): Promise<SqlSessionStore> {
    const settings = SqlSessionStore.check(options);
    try {
      await migrate(db, { dir: MIGRATIONS });
    } catch (err) {
      throw sessionStoreError(nameOf(db), 'create its table', reasonOf(err), err);
    }
    return new SqlSessionStore(db, settings, ownsDatabase);
  }

  /**
   * Validates `options` and returns them with their defaults.
   * @throws `WEIR_ERR_INVALID_OPTION` naming the option at fault.
   */
  static check(options: SqlSessionStoreOptions): Settings {
    const logger = options.logger;
    if (logger !== undefined && logger !== false && typeof logger?.warn !== 'function') {
      throw invalidOption('Session store logger', 'a logger (pino or one with its methods) or false', logger);
    }
    return {
      sweepIntervalMs: integerOption('Session store sweepIntervalMs', options.sweepIntervalMs, 60_000, 1),
      maxSweepRows: integerOption('Session store maxSweepRows', options.maxSweepRows, 1000, 1),
      logger,
    };
  }

  async get(key: string): Promise<SessionRecord | undefined> {
    const now = Date.now();
    const row = await this.#run(
      'read a session',
      (db) =>
        db.maybeOne<Row>`SELECT data, created_at, expires_at FROM weir_sessions WHERE key = ${key} AND expires_at > ${now}`,
    );
    return row === undefined
      ? undefined
      : { data: row.data, createdAt: row.created_at, expiresAt: row.expires_at };
  }

  async set(key: string, record: SessionRecord): Promise<void> {
    checkRecord(record);
    const { data, createdAt, expiresAt } = record;
    if (expiresAt <= Date.now()) return this.delete(key);
    await this.#run(
      'write a session',
      (db) => db.exec`INSERT INTO weir_sessions (key, data, created_at, expires_at)
        VALUES (${key}, ${data}, ${createdAt}, ${expiresAt})
        ON CONFLICT (key) DO UPDATE SET data = excluded.data, created_at = excluded.created_at, expires_at = excluded.expires_at`,
    );
  }

  async replace(key: string, record: SessionRecord): Promise<boolean> {
    checkRecord(record);
    const { data, createdAt, expiresAt } = record;
    const now = Date.now();
    // Only a live row, in one statement: a row deleted (logout) or expired meanwhile is not brought back.
    const result = await this.#run(
      'write a session',
      (
        db,
      ) => db.exec`UPDATE weir_sessions SET data = ${data}, created_at = ${createdAt}, expires_at = ${expiresAt}
        WHERE key = ${key} AND expires_at > ${now}`,
    );
    return result.rowCount > 0;
  }

  async touch(key: string, expiresAt: number): Promise<void> {
    checkTime('Session expiresAt', expiresAt);
    const now = Date.now();
    if (expiresAt <= now) return this.delete(key);
    // Only a live row: an expired one the sweep has not reached yet stays expired.
    await this.#run(
      'touch a session',
      (db) =>
        db.exec`UPDATE weir_sessions SET expires_at = ${expiresAt} WHERE key = ${key} AND expires_at > ${now}`,
    );
  }

  async delete(key: string): Promise<void> {
    await this.#run('delete a session', (db) => db.exec`DELETE FROM weir_sessions WHERE key = ${key}`);
  }

  /** Exact: the rows not expired (an index range count). */
  async size(): Promise<number> {
    const now = Date.now();
    const row = await this.#run(
      'count sessions',
      (db) => db.one<{ n: number }>`SELECT count(*) AS n FROM weir_sessions WHERE expires_at > ${now}`,
    );
    return Number(row.n);
  }

  /**
   * Deletes up to `maxSweepRows` expired rows; resolves to how many. The timer calls it every
   * `sweepIntervalMs`; on PostgreSQL, rows another process is sweeping are skipped, not waited for.
   */
  async sweep(): Promise<number> {
    const now = Date.now();
    const limit = this.#maxSweepRows;
    const result = await this.#run('sweep expired sessions', (db) =>
      db.engine === 'postgres'
        ? db.exec`DELETE FROM weir_sessions WHERE key IN (SELECT key FROM weir_sessions WHERE expires_at <= ${now} LIMIT ${limit} FOR UPDATE SKIP LOCKED)`
        : db.exec`DELETE FROM weir_sessions WHERE key IN (SELECT key FROM weir_sessions WHERE expires_at <= ${now} LIMIT ${limit})`,
    );
    return result.rowCount;
  }

  /** Stops the sweeps, waits for one running, and closes the database if the store opened it. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      await this.#sweeping;
      if (this.#ownsDatabase) await this.#db.close();
    })();
    return this.#closing;
  }

  /**
   * Batches back to back while they come back full (so expired rows never pile up faster than they go),
   * each a short statement of its own, at most 100 in one run; a short pause between them lets requests in.
   */
  async #sweepBatches(): Promise<void> {
    for (let i = 0; i < 100 && this.#closing === undefined; i++) {
      if ((await this.sweep()) < this.#maxSweepRows) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  #sweepInBackground(): void {
    // One sweep at a time: a slow one is not joined by the next tick's.
    if (this.#sweeping !== undefined || this.#closing !== undefined) return;
    this.#sweeping = this.#sweepBatches()
      .then(
        () => undefined,
        (err: unknown) => {
          this.#logger ??= defaultLogger('weir.sessions');
          this.#logger.warn({ err }, 'session sweep failed; the next one retries');
        },
      )
      .finally(() => {
        this.#sweeping = undefined;
      });
  }

  async #run<T>(operation: string, query: (db: Database) => Promise<T>): Promise<T> {
    if (this.#closing !== undefined) throw closedError(this.#name, operation);
    try {
      return await query(this.#db);
    } catch (err) {
      throw sessionStoreError(this.#name, operation, reasonOf(err), err);
    }
  }
}
