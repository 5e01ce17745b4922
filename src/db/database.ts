/**
 * The `Database` interface: one small, semantic surface over SQLite and PostgreSQL. Every query is a
 * tagged template, so values always travel as parameters and are never spliced into SQL text:
 *
 * ```ts
 * const row = await db.one<World>`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${id}`;
 * ```
 */
import type { SignalOptions } from '../concurrency/sleep.ts';
import type { Logger } from '../internal/logger.ts';

/** The engines weir speaks to. */
export type Engine =
  /** SQLite through better-sqlite3: embedded, one file, the default. */
  | 'sqlite'
  /** PostgreSQL through node-postgres (`pg`). */
  | 'postgres';

/** Options every engine takes. */
export interface EngineOptions {
  /**
   * Where the database reports what no caller sees: a pooled connection that fails while idle, a
   * database that stops answering, a ROLLBACK that fails. Query errors are not logged here: they reject
   * the query, and whoever handles them decides. A pino logger (or anything with its methods), or `false`.
   * @default pino at `LOG_LEVEL`, named `weir.db`
   */
  logger?: Logger | false;
  /**
   * Most queries waiting for a connection (PostgreSQL: a pooled one; SQLite: the one connection, while a
   * transaction holds it); one more is refused at once with 503 `WEIR_ERR_DB_UNAVAILABLE`.
   * @default 10000
   */
  maxWaiting?: number;
  /** How long a query waits for that connection before 503 `WEIR_ERR_DB_UNAVAILABLE`. @default 10000 */
  acquireTimeoutMs?: number;
}

/**
 * A value a query may carry as a parameter. `boolean` becomes 1/0 and `Date` an ISO-8601 string on
 * SQLite; arrays and plain objects become JSON text on SQLite, and PostgreSQL arrays / JSON on PostgreSQL.
 * `undefined` is refused (`WEIR_ERR_DB_PARAM`): write `null`.
 */
export type SqlValue =
  | string
  | number
  | bigint
  | boolean
  | Date
  | Uint8Array
  | null
  | readonly unknown[]
  | { readonly [key: string]: unknown };

/** What `exec` reports. */
export interface ExecResult {
  /** Rows inserted, updated or deleted (rows returned, for a statement with RETURNING). */
  readonly rowCount: number;
}

/** The query methods shared by a database, a transaction and a signal-bound view of either. */
export interface Queryable {
  /**
   * Runs a query; resolves to its rows (none for a statement that returns none). Integers are
   * `number`s, PostgreSQL's `int8` too (`count(*)`, `bigserial`): one beyond ±(2^53 - 1) fails the query
   * with `WEIR_ERR_DB_INTEGER_OVERFLOW` rather than coming back rounded (select it as text:
   * `id::text`). `numeric` comes back as a string. On SQLite, integers past that range are rounded by
   * the driver: store such values as TEXT.
   */
  query<Row = Record<string, unknown>>(strings: TemplateStringsArray, ...values: SqlValue[]): Promise<Row[]>;
  /**
   * Runs a query that must return exactly one row.
   * @throws `WEIR_ERR_DB_NOT_FOUND` (404) when it returns none, `WEIR_ERR_DB_TOO_MANY_ROWS` when it
   *   returns several.
   */
  one<Row = Record<string, unknown>>(strings: TemplateStringsArray, ...values: SqlValue[]): Promise<Row>;
  /**
   * Runs a query that returns at most one row; `undefined` when none.
   * @throws `WEIR_ERR_DB_TOO_MANY_ROWS` when it returns several.
   */
  maybeOne<Row = Record<string, unknown>>(
    strings: TemplateStringsArray,
    ...values: SqlValue[]
  ): Promise<Row | undefined>;
  /** Runs a statement for its effect; resolves to the number of rows it touched. */
  exec(strings: TemplateStringsArray, ...values: SqlValue[]): Promise<ExecResult>;
  /**
   * Runs a script of several SQL statements with no parameters (schema files, migrations). Not for
   * values: use the tagged methods, which never splice a value into SQL text.
   */
  execScript(sql: string): Promise<void>;
  /**
   * Runs `fn` in a transaction: committed when `fn` resolves, rolled back when it throws (the error is
   * rethrown). Inside a transaction, `tx.transaction()` opens a savepoint.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * The same methods, bound to a signal: each query is cancelled when it fires (on PostgreSQL, a running
   * query is cancelled on the server with the protocol's cancel request) and rejects with the signal's
   * reason. Pass a request's `ctx` directly: `db.with(ctx).one\`…\``.
   */
  with(options: SignalOptions): Queryable;
}

/** A database's connections now. */
export interface PoolStats {
  /** `postgres` or `sqlite`. */
  readonly driver: 'postgres' | 'sqlite';
  /** Most connections the pool opens (SQLite: 1, the one connection). */
  readonly max: number;
  /** Connections open now, busy or idle. */
  readonly open: number;
  /** Connections running a query or a transaction now. */
  readonly inUse: number;
  /** Queries waiting for a connection now (bounded by maxWaiting). */
  readonly waiting: number;
}

/**
 * A connected database: the query methods plus its lifecycle. Open one with `openDatabase(url)`.
 */
export interface Database extends Queryable {
  /** Which engine this is. */
  readonly engine: Engine;
  /** The URL it was opened with, password removed: safe to log. */
  readonly url: string;
  /** True once `close()` has been called. */
  readonly closing: boolean;
  /**
   * Closes the database: waits for running queries, then closes connections. Queries made afterwards
   * reject with `WEIR_ERR_DB_CLOSED`. Calling it again returns the same promise.
   */
  close(): Promise<void>;
  /**
   * Its connections now, for metrics: synchronous and cheap, never throws. Once `close()` has resolved,
   * `open`, `inUse` and `waiting` are 0 (`max` stays what it was opened with). On PostgreSQL, `inUse`
   * counts every connection checked out of the pool (`db.pool`'s own too), and a query whose connection
   * is still being opened counts as waiting.
   */
  poolStats(): PoolStats;
}
