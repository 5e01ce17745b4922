/**
 * The errors of the data layer. A driver's error is translated once, where it surfaces, into:
 * - a {@link DatabaseError} (an `HttpError`) when a client can be told something useful: a duplicate
 *   (409), a dangling reference or refused value (422), a missing row (404), an unreachable or busy
 *   database (503); or
 * - a {@link QueryError} (a plain `WeirError`, so the HTTP layer answers a generic 500 and logs it) for
 *   everything that is the program's fault: bad SQL, a missing table, a wrong type.
 *
 * Both keep the engine's own code (`engineCode`, such as `23505` or `SQLITE_CONSTRAINT_UNIQUE`) and carry
 * the SQL text and the parameters as non-enumerable properties, so logging an error leaks no values.
 */
import { type ErrorCode, errorCodes, HttpError, WeirError } from '../errors.ts';

/** Where an error came from: the SQL, its parameters, and the stack of the code that made the query. */
export interface QueryOrigin {
  readonly sql: string;
  readonly params: readonly unknown[];
  /** The caller's stack, captured once per call site (the driver's own stack ends in a socket callback). */
  readonly stack?: string | undefined;
}

function attach(error: Error, engineCode: string | undefined, origin: QueryOrigin | undefined): void {
  Object.defineProperty(error, 'engineCode', { value: engineCode, enumerable: true });
  if (origin === undefined) return;
  Object.defineProperty(error, 'sql', { value: origin.sql, enumerable: false });
  Object.defineProperty(error, 'params', { value: origin.params, enumerable: false });
  if (origin.stack !== undefined) {
    error.stack = `${error.name}: ${error.message}\n${origin.stack.slice(origin.stack.indexOf('\n') + 1)}`;
  }
}

/** A database error a client can be told about: 404, 409, 422 or 503. Match on `code`. */
export class DatabaseError extends HttpError {
  /** The engine's own code (`23505`, `SQLITE_BUSY`…), when the engine gave one. */
  declare readonly engineCode: string | undefined;
  /** The constraint that refused the row, when the engine names it (PostgreSQL does). */
  readonly constraint: string | undefined;
  /** The SQL text of the failed query (non-enumerable). */
  declare readonly sql: string | undefined;
  /** The parameters of the failed query (non-enumerable, so logs never carry them). */
  declare readonly params: readonly unknown[] | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; engineCode?: string; constraint?: string; origin?: QueryOrigin } = {},
  ) {
    const headers = errorCodes[code].status === 503 ? { 'retry-after': '1' } : undefined;
    super(errorCodes[code].status, code, message, undefined, { cause: options.cause, headers });
    this.constraint = options.constraint;
    attach(this, options.engineCode, options.origin);
  }
}

/** A query the database refused for a reason that is the program's fault (500, message not shown). */
export class QueryError extends WeirError {
  declare readonly engineCode: string | undefined;
  declare readonly sql: string | undefined;
  declare readonly params: readonly unknown[] | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; engineCode?: string; origin?: QueryOrigin } = {},
  ) {
    super(code, message, { cause: options.cause });
    attach(this, options.engineCode, options.origin);
  }
}

/** The URL with its password replaced by `***`: what messages and logs show. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
  }
}

/** The database is gone or full: 503, retry shortly. */
export function unavailable(target: string, reason: string, cause?: unknown): DatabaseError {
  return new DatabaseError('WEIR_ERR_DB_UNAVAILABLE', `Database ${target} is unavailable: ${reason}`, {
    cause,
  });
}

/** A query on a closed database. */
export function closedError(): QueryError {
  return new QueryError('WEIR_ERR_DB_CLOSED', 'The database is closed; open a new one with openDatabase()');
}

/** The row-count errors of `one` / `maybeOne`. */
export function rowCountError(count: number, origin: QueryOrigin): WeirError {
  if (count === 0) {
    return new DatabaseError('WEIR_ERR_DB_NOT_FOUND', 'The query found no row', { origin });
  }
  return new QueryError('WEIR_ERR_DB_TOO_MANY_ROWS', `Expected at most one row, the query found ${count}`, {
    origin,
  });
}

/** A parameter no engine can store: `undefined`, a function, a symbol. */
export function paramError(index: number, value: unknown, origin: QueryOrigin): QueryError {
  const what = value === undefined ? 'undefined (write null for SQL NULL)' : `a ${typeof value}`;
  return new QueryError(
    'WEIR_ERR_DB_PARAM',
    `Query parameter $${index + 1} is ${what}, which SQL cannot store`,
    {
      origin,
    },
  );
}
