/**
 * `openDatabase(url)`: the one place a URL picks an engine. Each engine's file loads its own driver, so
 * opening SQLite never loads `pg`.
 */
import { WeirError } from '../errors.ts';
import { redactUrl, schemeOf } from '../internal/url.ts';
import type { Database } from './database.ts';
import { openPostgres, type PostgresOptions } from './postgres.ts';
import { openSqlite, type SqliteOptions } from './sqlite.ts';

/** The database weir opens when no URL is given (and `DATABASE_URL` is unset). */
export const DEFAULT_DATABASE_URL = 'sqlite:./data/weir.db';

/** Options of {@link openDatabase}: each applies to its engine and is ignored by the other. */
export interface DatabaseOptions extends SqliteOptions, PostgresOptions {}

const engines: Record<string, (url: string, options: DatabaseOptions) => Promise<Database>> = {
  'sqlite:': openSqlite,
  'postgres:': openPostgres,
  'postgresql:': openPostgres,
};

/**
 * Opens a database by URL: `sqlite:PATH` (`sqlite::memory:` for a private in-memory one) or
 * `postgres://user:password@host:port/name`. Without a URL it uses `DATABASE_URL`, then
 * `sqlite:./data/weir.db`.
 * @throws `WEIR_ERR_DB_URL` for a URL with an unknown scheme; `WEIR_ERR_DB_UNAVAILABLE` when the database
 *   cannot be reached (the message names the URL, without its password).
 * @example
 * const db = await openDatabase(process.env.DATABASE_URL);
 * app.onStop(() => db.close());
 * app.get('/db', (ctx) => db.with(ctx).one`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${1}`);
 */
export function openDatabase(url?: string, options: DatabaseOptions = {}): Promise<Database> {
  const target = url || process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  const scheme = schemeOf(target);
  const open = scheme === undefined ? undefined : engines[scheme];
  if (open === undefined) {
    return Promise.reject(
      new WeirError(
        'WEIR_ERR_DB_URL',
        `Database URL ${JSON.stringify(redactUrl(target))} names no supported engine: use sqlite:PATH or postgres://…`,
      ),
    );
  }
  return open(target, options);
}
