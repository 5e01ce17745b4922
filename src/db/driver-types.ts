/**
 * The driver objects weir hands out (`SqliteDatabase.connection`, `PostgresDatabase.pool`), typed by the
 * part of their API that weir's users reach for, and declared here rather than imported from the drivers'
 * typings, so that weir's declarations compile without `@types/better-sqlite3` or `@types/pg` installed.
 * The drivers' own types are checked against these at build time (they must stay assignable). With those
 * typings installed, a cast gives the rest: `db.connection as unknown as import('better-sqlite3').Database`.
 * @module
 */

/** What a write through {@link SqliteStatement.run} changed. */
export interface SqliteRunResult {
  readonly changes: number;
  readonly lastInsertRowid: number | bigint;
}

/** A better-sqlite3 prepared statement. */
export interface SqliteStatement {
  /** The SQL it was prepared from. */
  readonly source: string;
  /** Whether it returns rows (then use `get`, `all`, `iterate`; otherwise `run`). */
  readonly reader: boolean;
  run(...params: unknown[]): SqliteRunResult;
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

/** Progress of {@link SqliteConnection.backup}, in pages. */
export interface SqliteBackupProgress {
  readonly totalPages: number;
  readonly remainingPages: number;
}

/** A better-sqlite3 `Database`: the one connection behind `openDatabase('sqlite:…')`. */
export interface SqliteConnection {
  /** The file path (or `:memory:`). */
  readonly name: string;
  readonly open: boolean;
  readonly inTransaction: boolean;
  readonly memory: boolean;
  readonly readonly: boolean;
  prepare(source: string): SqliteStatement;
  exec(source: string): this;
  /** Runs a PRAGMA; `{ simple: true }` returns the first column of the first row. */
  pragma(source: string, options?: { simple?: boolean }): unknown;
  /** Registers a user-defined SQL function, called synchronously with the SQL arguments. */
  function(name: string, fn: (...args: never[]) => unknown): this;
  /** Copies the database, page by page, into the file `destination` while it stays usable. */
  backup(
    destination: string,
    options?: { progress?: (info: SqliteBackupProgress) => number },
  ): Promise<SqliteBackupProgress>;
}

/** One row set from node-postgres. */
export interface PostgresQueryResult {
  readonly rows: unknown[];
  readonly rowCount: number | null;
}

/** A node-postgres message from LISTEN/NOTIFY. */
export interface PostgresNotification {
  readonly processId: number;
  readonly channel: string;
  readonly payload?: string | undefined;
}

/** A node-postgres client checked out of the pool: give it back with `release()`. */
export interface PostgresClient {
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  /** Returns the client to the pool; with an error (or `true`), the pool closes it instead. */
  release(err?: Error | boolean): void;
  on(event: 'notification', listener: (message: PostgresNotification) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
}

/** A node-postgres `Pool`: the connections behind `openDatabase('postgres://…')`. */
export interface PostgresPool {
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  query(text: string, values?: unknown[]): Promise<PostgresQueryResult>;
  connect(): Promise<PostgresClient>;
}
