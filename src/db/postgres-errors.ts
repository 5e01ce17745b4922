/**
 * node-postgres errors → weir's typed errors (see `errors.ts`), by SQLSTATE: class 23 integrity refusals
 * (unique, foreign key, NOT NULL, CHECK) become 409/422 naming only the columns; deadlock, serialization,
 * lock and statement timeouts are worth a retry; class 08, shutdowns, too many clients and socket errors
 * mean the database is unavailable.
 */
import type { SqlValue } from './database.ts';
import {
  DatabaseError,
  paramError,
  QueryError,
  type QueryOrigin,
  refusalError,
  retryError,
  unavailable,
} from './errors.ts';
import { originOf } from './executor.ts';
import { postgresRefusal } from './refusals.ts';

/**
 * Thrown by the int8 type parser for a value a number cannot hold exactly; pg reports it as the query's
 * error once the result is read, and {@link translate} turns it into `WEIR_ERR_DB_INTEGER_OVERFLOW`.
 */
export class IntegerOverflow extends Error {
  constructor() {
    super('An int8 value is beyond ±(2^53 - 1)');
  }
}

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

interface PgError extends Error {
  code?: string;
  constraint?: string;
  detail?: string;
  table?: string;
  column?: string;
}

/** Maps a pg error to weir's typed errors; `url` is the database's, password removed. */
export function translate(err: unknown, url: string, origin: QueryOrigin | undefined): unknown {
  if (!(err instanceof Error)) return err;
  if (err instanceof QueryError || err instanceof DatabaseError) return err;
  if (err instanceof IntegerOverflow) {
    return new QueryError(
      'WEIR_ERR_DB_INTEGER_OVERFLOW',
      'An int8 value is beyond ±(2^53 - 1), which a JavaScript number cannot hold exactly: select it as text (column::text)',
      { origin },
    );
  }
  const e = err as PgError;
  const engineCode = e.code;
  const options = { cause: err, engineCode, detail: e.detail, origin };
  const refusal = postgresRefusal(e);
  if (refusal !== undefined) return refusalError(refusal, options);
  if (engineCode !== undefined && RETRY.has(engineCode)) return retryError(options);
  if (
    engineCode === undefined ||
    GONE.has(engineCode) ||
    engineCode.startsWith('08') ||
    /^E[A-Z]+$/.test(engineCode)
  ) {
    // No SQLSTATE: a socket error, a dropped connection or the pool's connect timeout.
    if (engineCode !== undefined || /connect|terminat|queryable|timeout/i.test(e.message)) {
      return unavailable(url, undefined, options);
    }
  }
  return new QueryError('WEIR_ERR_DB_QUERY', e.message, options);
}
