/**
 * weir/db: one small interface over SQLite (the embedded default) and PostgreSQL, picked by URL.
 * Importing it loads no driver; opening a database loads its engine's.
 * @module
 */

export type { Database, Engine, ExecResult, PoolStats, Queryable, SqlValue } from './database.ts';
export type {
  PostgresClient,
  PostgresNotification,
  PostgresPool,
  PostgresQueryResult,
  SqliteBackupProgress,
  SqliteConnection,
  SqliteRunResult,
  SqliteStatement,
} from './driver-types.ts';
export { DatabaseError, QueryError } from './errors.ts';
export { type MigrateOptions, type MigrateResult, migrate } from './migrations.ts';
export { type AcquireRecord, acquireChannel } from './observe.ts';
export { type DatabaseOptions, DEFAULT_DATABASE_URL, openDatabase } from './open.ts';
export type { PostgresDatabase, PostgresOptions } from './postgres.ts';
export type { SqliteDatabase, SqliteOptions } from './sqlite.ts';
