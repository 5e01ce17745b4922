/**
 * `openSessionStore(target)`: the one place a URL or an object picks where sessions live. Redis and the
 * SQL drivers are loaded only by the backends that use them.
 */
import type { Database } from '../../db/database.ts';
import { openDatabase } from '../../db/open.ts';
import { invalidOption, isWeirError, WeirError } from '../../errors.ts';
import { redactUrl, schemeOf } from '../../internal/url.ts';
import { sessionStoreError } from './errors.ts';
import { MemorySessionStore, type MemorySessionStoreOptions } from './memory.ts';
import { RedisSessionStore, type RedisSessionStoreOptions } from './redis.ts';
import { SqlSessionStore, type SqlSessionStoreOptions } from './sql.ts';
import type { SessionStore } from './store.ts';

/** The store weir opens when none is named. */
export const DEFAULT_SESSION_STORE = 'memory:';

/**
 * Options of {@link openSessionStore}: each applies to its backend and is ignored by the others
 * (`maxSessions`: memory; `prefix`, `commandTimeoutMs`, `connectTimeoutMs`: Redis; `sweepIntervalMs`,
 * `maxSweepRows`, `logger`: SQL), so that one set of options serves whichever URL the environment gives.
 */
export interface SessionStoreOptions
  extends MemorySessionStoreOptions,
    RedisSessionStoreOptions,
    SqlSessionStoreOptions {}

/** What {@link openSessionStore} accepts. */
export type SessionStoreTarget = string | Database | SessionStore;

const ACCEPTED =
  "'memory:', a redis:// or rediss:// URL, a sqlite: or postgres:// URL, a Database from openDatabase(), " +
  'or an object that implements SessionStore';

const STORE_METHODS = ['get', 'set', 'touch', 'delete', 'size', 'close'] as const;

/**
 * Opens a session store:
 * - `'memory:'` (the default): this process only, bounded by `maxSessions`;
 * - `'redis://…'` / `'rediss://…'`: Redis, keys under `prefix`;
 * - `'sqlite:PATH'` / `'postgres://…'`: a database the store opens, owns and closes;
 * - a `Database` from `openDatabase()`: its `weir_sessions` table; the database stays the caller's;
 * - an object that implements `SessionStore`: returned as it is.
 *
 * The SQL stores create their table at open (a migration recorded in `weir_migrations`).
 * @throws `WEIR_ERR_INVALID_OPTION` for a target none of those, or a bad option; `WEIR_ERR_SESSION_STORE`
 *   when the backend cannot be reached or its driver is not installed. Messages never show a password.
 * @example
 * const sessions = await openSessionStore(process.env.SESSION_STORE_URL ?? db);
 * app.onStop(() => sessions.close());
 */
export async function openSessionStore(
  target: SessionStoreTarget = DEFAULT_SESSION_STORE,
  options: SessionStoreOptions = {},
): Promise<SessionStore> {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('openSessionStore() options', 'an object', options);
  }
  if (typeof target === 'string') return openUrl(target, options);
  if (isDatabase(target)) return SqlSessionStore.open(target, options);
  if (typeof target === 'object' && target !== null) {
    const missing = STORE_METHODS.filter(
      (name) => typeof (target as unknown as Record<string, unknown>)[name] !== 'function',
    );
    if (missing.length === 0) return target;
    throw new WeirError(
      'WEIR_ERR_INVALID_OPTION',
      `The session store target is an object but not a SessionStore (it has no ${missing.join(', ')} method): use ${ACCEPTED}`,
    );
  }
  throw invalidOption('The session store target', ACCEPTED, target);
}

async function openUrl(url: string, options: SessionStoreOptions): Promise<SessionStore> {
  const scheme = schemeOf(url);
  if (scheme === 'memory:') return new MemorySessionStore(options);
  if (scheme === 'redis:' || scheme === 'rediss:') return RedisSessionStore.open(url, options);
  if (scheme === 'sqlite:' || scheme === 'postgres:' || scheme === 'postgresql:') {
    // Checked before a connection is opened, so that a bad option leaves nothing behind.
    SqlSessionStore.check(options);
    let db: Database;
    try {
      db = await openDatabase(url, options.logger === undefined ? {} : { logger: options.logger });
    } catch (err) {
      const shown = redactUrl(url);
      const reason = isWeirError(err) ? err.code : 'the database could not be opened';
      throw sessionStoreError(`the SQL session store at ${shown}`, 'open its database', reason, err);
    }
    try {
      return await SqlSessionStore.open(db, options, true);
    } catch (err) {
      await db.close().catch(() => undefined);
      throw err;
    }
  }
  throw invalidOption('The session store target', ACCEPTED, redactUrl(url));
}

function isDatabase(value: unknown): value is Database {
  if (typeof value !== 'object' || value === null) return false;
  const db = value as Partial<Database>;
  return (
    (db.engine === 'sqlite' || db.engine === 'postgres') &&
    typeof db.exec === 'function' &&
    typeof db.maybeOne === 'function' &&
    typeof db.transaction === 'function'
  );
}
