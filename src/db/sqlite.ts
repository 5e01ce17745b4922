/**
 * SQLite through better-sqlite3: one connection per process, in WAL mode with a busy timeout, so several
 * processes (`weir serve --workers N`) share one file. better-sqlite3 is synchronous and fast (a point
 * lookup takes microseconds), so a query runs to completion on the event loop; the promise API is for
 * parity with PostgreSQL.
 *
 * Transactions: one connection means one transaction at a time. While `transaction()` runs, queries
 * made through the database itself (not through `tx`) wait for it to end; those made through `tx` run at
 * once. The wait is bounded like PostgreSQL's wait for a pooled connection: at most `maxWaiting` wait
 * (one more gets 503 at once), each for at most `acquireTimeoutMs` (then 503). Writers take the file's
 * write lock at BEGIN (`BEGIN IMMEDIATE`), so two processes never deadlock upgrading a read lock; a writer
 * that waits past the busy timeout gets `WEIR_ERR_DB_RETRY` (503).
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type BetterSqlite3 from 'better-sqlite3';
import { type Releaser, Semaphore } from '../concurrency/lock.ts';
import { linkedController, reasonOf } from '../concurrency/signal.ts';
import type { Logger } from '../internal/logger.ts';
import type { EngineOptions, PoolStats, SqlValue } from './database.ts';
import { loadDriver } from './driver.ts';
import type { SqliteConnection } from './driver-types.ts';
import {
  attachRollbackFailure,
  closedError,
  DatabaseError,
  openError,
  paramError,
  QueryError,
  type QueryOrigin,
  refusalError,
  retryError,
  unavailable,
} from './errors.ts';
import { EngineDatabase, originOf, type Runner, type RunResult } from './executor.ts';
import { type EngineSettings, engineSettings } from './log.ts';
import { acquiredAtOnce, startAcquire } from './observe.ts';
import { sqliteRefusal } from './refusals.ts';

/** Options of a SQLite database. */
export interface SqliteOptions extends EngineOptions {
  /** How long a writer waits for another process's write lock before failing. @default 5000 */
  busyTimeoutMs?: number;
}

type Statement = BetterSqlite3.Statement<unknown[], unknown>;

/** `sqlite:PATH`, `sqlite://PATH`, `sqlite:///ABS/PATH` or `sqlite::memory:` → a file path for SQLite. */
export function sqlitePath(url: string): string {
  let path = url.slice('sqlite:'.length);
  if (path.startsWith('//')) path = path.slice(2);
  const query = path.indexOf('?');
  if (query !== -1) path = path.slice(0, query);
  return path === '' ? ':memory:' : decodeURIComponent(path);
}

/**
 * Opens a SQLite database file (creating it and its folder when missing). `traced: false` keeps its
 * queries off the `weir:db.query` channel: the job queue's own file, polled while idle, is no one's query.
 */
export async function openSqlite(
  url: string,
  options: SqliteOptions = {},
  traced = true,
): Promise<SqliteDatabase> {
  const settings = engineSettings(options);
  const Driver = await loadDriver<typeof BetterSqlite3>('better-sqlite3', 'sqlite');
  const path = sqlitePath(url);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  let connection: BetterSqlite3.Database | undefined;
  try {
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    connection = new Driver(path, { timeout: busyTimeoutMs });
    if (path !== ':memory:') await useWal(connection, busyTimeoutMs);
    // NORMAL is durable across process crashes in WAL mode; only a power loss can drop the last commits.
    connection.pragma('synchronous = NORMAL');
    connection.pragma('foreign_keys = ON');
  } catch (err) {
    connection?.close(); // a file that opened but could not be set up leaves no descriptor behind
    throw openError(url, (err as Error).message, err);
  }
  const target = traced ? { engine: 'sqlite' as const, namespace: path } : undefined;
  return new SqliteDatabase(url, new SqliteState(connection, url, settings), target);
}

/**
 * Switches the file to WAL (a no-op once it is: the mode is kept in the file). While the file is still
 * in rollback mode, SQLite answers SQLITE_BUSY at once, without waiting in its busy handler, when another
 * connection holds the write lock: several workers opening a new file at the same moment. So the switch
 * is retried, backing off, within the busy timeout.
 */
async function useWal(connection: BetterSqlite3.Database, busyTimeoutMs: number): Promise<void> {
  const until = performance.now() + busyTimeoutMs;
  for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
    try {
      connection.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'SQLITE_BUSY' || performance.now() + wait > until) throw err;
      await sleep(wait);
    }
  }
}

/** The SQLite engine behind `openDatabase('sqlite:…')`. */
export class SqliteDatabase extends EngineDatabase<SqliteState> {
  readonly engine = 'sqlite' as const;

  /** The better-sqlite3 connection, for what the interface does not cover (backups, functions). */
  get connection(): SqliteConnection {
    return this.state.connection;
  }
}

/**
 * The connection and what guards it: the statement cache and the turn, which a transaction holds from
 * BEGIN to its end (and a script or `close()` for their duration). Outside queries run at once while no
 * one holds the turn, and otherwise wait for it, within `maxWaiting` and `acquireTimeoutMs`.
 */
class SqliteState {
  /** @internal */
  readonly connection: BetterSqlite3.Database;
  readonly outer: Runner;
  closing = false;
  #closed: Promise<void> | undefined;
  readonly #url: string;
  readonly #log: Logger;
  readonly #acquireTimeoutMs: number;
  readonly #maxWaiting: number;
  readonly #statements = new WeakMap<TemplateStringsArray, Statement>();
  readonly #turn: Semaphore;
  // 1 while close() waits in the turn's line, last (nothing joins after it): it is no query, so stats()
  // leaves it out of `waiting`.
  #closeWaits = 0;
  #savepoints = 0;

  /** @internal */
  constructor(connection: BetterSqlite3.Database, url: string, settings: EngineSettings) {
    this.connection = connection;
    this.#url = url;
    this.#log = settings.log;
    this.#acquireTimeoutMs = settings.acquireTimeoutMs;
    this.#maxWaiting = settings.maxWaiting;
    // The bound is checked in turn(), not by the semaphore: close() waits in the same line unrefused.
    this.#turn = new Semaphore(1);
    this.outer = {
      run: (strings, values, signal) => {
        if (this.closing) return Promise.reject(closedError());
        // The common case takes no turn: only a running transaction makes outside queries wait.
        if (this.#turn.available === 0) return this.#runAfterTransaction(strings, values, signal);
        if (signal?.aborted !== true) acquiredAtOnce('sqlite', true);
        return this.#run(strings, values, signal);
      },
      script: async (sql, signal) => {
        using _turn = await this.turn(signal);
        this.#script(sql);
      },
      transaction: (fn, signal) => this.#transaction(fn, signal),
    };
  }

  #script(sql: string): void {
    try {
      this.connection.exec(sql);
    } catch (err) {
      throw translate(err, this.#url, { sql, params: [] });
    }
  }

  /**
   * Waits until no transaction runs, then holds that state. Refused with 503 when `maxWaiting` already
   * wait, and when it does not come within `acquireTimeoutMs`; the signal withdraws from the line.
   */
  async turn(signal: AbortSignal | undefined): Promise<Releaser> {
    if (this.closing) throw closedError();
    if (signal?.aborted) throw reasonOf(signal);
    const now = this.#turn.tryAcquire();
    if (now !== undefined) {
      acquiredAtOnce('sqlite', true);
      return now;
    }
    if (this.#turn.waiting >= this.#maxWaiting) {
      acquiredAtOnce('sqlite', false);
      throw unavailable(this.#url, `${this.#turn.waiting} queries already wait for the running transaction`);
    }
    const acquire = startAcquire('sqlite');
    const { controller, dispose } = linkedController(signal);
    const timeoutMs = this.#acquireTimeoutMs;
    // setTimeout would fire at once for a delay past 2^31 - 1 ms: an unbounded wait sets no timer.
    const timer =
      timeoutMs > 2_147_483_647
        ? undefined
        : setTimeout(() => {
            controller.abort(
              unavailable(this.#url, `no turn came free within acquireTimeoutMs (${timeoutMs} ms)`),
            );
          }, timeoutMs);
    try {
      const release = await this.#turn.acquire({ signal: controller.signal });
      acquire?.end(true);
      return release;
    } catch (err) {
      acquire?.end(false);
      throw err;
    } finally {
      clearTimeout(timer);
      dispose();
    }
  }

  close(): Promise<void> {
    this.closing = true;
    // A free turn is granted at once, without a place in the line.
    if (this.#closed === undefined && this.#turn.available === 0) this.#closeWaits = 1;
    this.#closed ??= this.#turn.acquire().then((release) => {
      this.#closeWaits = 0;
      this.connection.close();
      release();
    });
    return this.#closed;
  }

  /**
   * The one connection now. Outside a transaction a query runs to its end within one call, so no one
   * ever sees it in use: only a transaction (or a script) holding the turn does, and who waits for it.
   */
  stats(): PoolStats {
    if (!this.connection.open) return { driver: 'sqlite', max: 1, open: 0, inUse: 0, waiting: 0 };
    return {
      driver: 'sqlite',
      max: 1,
      open: 1,
      inUse: this.#turn.available === 0 ? 1 : 0,
      // At 0 between close()'s grant and its callback, when the line is empty already.
      waiting: Math.max(0, this.#turn.waiting - this.#closeWaits),
    };
  }

  #run(
    strings: TemplateStringsArray,
    values: SqlValue[],
    signal: AbortSignal | undefined,
  ): Promise<RunResult> {
    if (signal?.aborted) return Promise.reject(reasonOf(signal));
    try {
      return Promise.resolve(this.#execute(strings, values));
    } catch (err) {
      return Promise.reject(translate(err, this.#url, originOf(strings, values)));
    }
  }

  #execute(strings: TemplateStringsArray, values: SqlValue[]): RunResult {
    let statement = this.#statements.get(strings);
    if (statement === undefined) {
      statement = this.connection.prepare(strings.join('?'));
      this.#statements.set(strings, statement);
    }
    const params = bindable(values, strings);
    if (statement.reader) {
      const rows = statement.all(...params);
      return { rows, rowCount: rows.length };
    }
    return { rows: [], rowCount: statement.run(...params).changes };
  }

  async #runAfterTransaction(
    strings: TemplateStringsArray,
    values: SqlValue[],
    signal: AbortSignal | undefined,
  ): Promise<RunResult> {
    using _turn = await this.turn(signal);
    return await this.#run(strings, values, signal);
  }

  async #transaction<T>(fn: (runner: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    using _turn = await this.turn(signal);
    // `return await`: the turn is disposed when this block exits, which must be after the transaction
    // ends, not when its promise is handed back (outside queries would then run inside it).
    return await this.#within(fn, signal, 'BEGIN IMMEDIATE', 'COMMIT', 'ROLLBACK');
  }

  /** Runs `fn` between `begin` and `commit`, or `rollback` when it throws; the runner it gets nests. */
  async #within<T>(
    fn: (runner: Runner) => Promise<T>,
    signal: AbortSignal | undefined,
    begin: string,
    commit: string,
    rollback: string,
  ): Promise<T> {
    if (signal?.aborted) throw reasonOf(signal);
    this.#script(begin);
    const inner: Runner = {
      run: (strings, values, querySignal) => this.#run(strings, values, querySignal),
      script: async (sql, querySignal) => {
        querySignal?.throwIfAborted();
        this.#script(sql);
      },
      transaction: (nested, nestedSignal) => {
        const name = `weir_sp_${++this.#savepoints}`;
        return this.#within(
          nested,
          nestedSignal,
          `SAVEPOINT ${name}`,
          `RELEASE ${name}`,
          `ROLLBACK TO ${name}; RELEASE ${name}`,
        );
      },
    };
    let result: T;
    try {
      result = await fn(inner);
    } catch (err) {
      this.#rollback(rollback, err);
      throw err;
    }
    try {
      this.#script(commit);
    } catch (err) {
      // A COMMIT refused (a busy file) leaves the transaction open on the one connection: end it.
      if (begin === 'BEGIN IMMEDIATE' && this.connection.inTransaction) this.#rollback(rollback, err);
      throw err;
    }
    return result;
  }

  /**
   * Rolls back after `original` ended the transaction. A ROLLBACK can fail too (the engine may have
   * rolled back already, after a full disk, or the function ended the transaction itself); the caller
   * still gets `original`, with the rollback's failure attached and logged.
   */
  #rollback(sql: string, original: unknown): void {
    try {
      this.#script(sql);
    } catch (rollbackError) {
      attachRollbackFailure(original, rollbackError);
      this.#log.error(
        { err: rollbackError, db: this.#url, failedWith: (original as { code?: unknown })?.code },
        `${sql} failed after the transaction's function threw; the caller gets the function's error`,
      );
    }
  }
}

/**
 * The values as better-sqlite3 binds them. Returns the same array when nothing needs converting (the
 * common case: numbers and strings), so a typical query allocates nothing here.
 */
function bindable(values: SqlValue[], strings: TemplateStringsArray): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    const type = typeof value;
    if (type === 'number' || type === 'string' || type === 'bigint' || value === null) continue;
    out ??= values.slice();
    out[i] = convert(value, i, strings);
  }
  return out ?? values;
}

function convert(value: unknown, index: number, strings: TemplateStringsArray): unknown {
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  throw paramError(index, value, originOf(strings, []));
}

/** Maps a better-sqlite3 error to weir's typed errors. */
function translate(err: unknown, url: string, origin: QueryOrigin): unknown {
  if (!(err instanceof Error)) return err;
  if (err instanceof QueryError || err instanceof DatabaseError) return err;
  const engineCode = (err as { code?: string }).code;
  const options = { cause: err, engineCode, origin };
  const refusal = sqliteRefusal(engineCode, err.message);
  if (refusal !== undefined) return refusalError(refusal, options);
  if (engineCode?.startsWith('SQLITE_BUSY') || engineCode?.startsWith('SQLITE_LOCKED')) {
    return retryError(options);
  }
  if (
    engineCode === 'SQLITE_FULL' ||
    engineCode?.startsWith('SQLITE_IOERR') ||
    engineCode === 'SQLITE_READONLY'
  ) {
    return unavailable(url, undefined, options);
  }
  return new QueryError('WEIR_ERR_DB_QUERY', err.message, options);
}
