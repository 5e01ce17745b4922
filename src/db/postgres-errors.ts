/**
 * node-postgres errors → weir's typed errors (see `errors.ts`), by SQLSTATE: 23505 unique, 23503 foreign
 * key, 23502/23514 NOT NULL/CHECK; deadlock, serialization, lock and statement timeouts are worth a retry;
 * class 08, shutdowns, too many clients and socket errors mean the database is unavailable.
 */
import type { SqlValue } from './database.ts';
import { DatabaseError, paramError, QueryError, type QueryOrigin } from './errors.ts';
import { originOf } from './executor.ts';

/** The error to release a client with: set when its connection can no longer be trusted. */
export function brokenConnection(err: unknown): Error | undefined {
  return err instanceof DatabaseError && err.code === 'WEIR_ERR_DB_UNAVAILABLE' ? err : undefined;
}

export function checkValues(values: SqlValue[], strings: TemplateStringsArray): void {
  for (let i = 0; i < values.length; i++) {
    const value = values[i] as unknown;
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
      throw paramError(i, value, originOf(strings, []));
    }
  }
}

const RETRY = new Set(['40001', '40P01', '55P03', '57014']);
const GONE = new Set(['57P01', '57P02', '57P03', '53300']);

/** Maps a pg error to weir's typed errors. */
export function translate(err: unknown, target: string, origin: QueryOrigin | undefined): unknown {
  if (!(err instanceof Error)) return err;
  if (err instanceof QueryError || err instanceof DatabaseError) return err;
  const e = err as Error & { code?: string; constraint?: string; detail?: string };
  const engineCode = e.code;
  const options = { cause: err, engineCode, constraint: e.constraint, origin };
  const detail = e.detail === undefined ? '' : ` (${e.detail})`;
  switch (engineCode) {
    case '23505':
      return new DatabaseError('WEIR_ERR_DB_UNIQUE_VIOLATION', `${e.message}${detail}`, options);
    case '23503':
      return new DatabaseError('WEIR_ERR_DB_FOREIGN_KEY_VIOLATION', `${e.message}${detail}`, options);
    case '23502':
    case '23514':
      return new DatabaseError('WEIR_ERR_DB_CONSTRAINT_VIOLATION', e.message, options);
  }
  if (engineCode !== undefined && RETRY.has(engineCode)) {
    return new DatabaseError('WEIR_ERR_DB_RETRY', `${e.message}; retry the operation`, options);
  }
  if (
    engineCode === undefined ||
    GONE.has(engineCode) ||
    engineCode.startsWith('08') ||
    /^E[A-Z]+$/.test(engineCode)
  ) {
    // No SQLSTATE: a socket error, a dropped connection or the pool's connect timeout.
    if (engineCode !== undefined || /connect|terminat|queryable|timeout/i.test(e.message)) {
      return new DatabaseError(
        'WEIR_ERR_DB_UNAVAILABLE',
        `Database ${target} is unavailable: ${e.message}`,
        options,
      );
    }
  }
  return new QueryError('WEIR_ERR_DB_QUERY', e.message, options);
}
