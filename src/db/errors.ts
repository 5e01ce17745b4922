/**
 * The errors of the data layer, written for two audiences (STYLE §5):
 * - the client, who reads `code`, `message` and `details` in a response body: a message it can act on,
 *   naming at most the columns at fault, never a value, a constraint, a table, SQL or a host;
 * - the operator, who reads the log: the driver's own error as `cause` (loggers print its message and
 *   stack after the error's), and log-only fields (`engineCode`, `constraint`, `table`, `url`).
 *
 * A driver's error is translated once, where it surfaces, into:
 * - a {@link DatabaseError} (an `HttpError`) when a client can be told something useful: a duplicate
 *   (409), a dangling reference or refused value (422), a missing row (404), an unreachable or busy
 *   database (503); or
 * - a {@link QueryError} (a plain `WeirError`, so the HTTP layer answers a generic 500 and logs it) for
 *   everything that is the program's fault: bad SQL, a missing table, a wrong type.
 *
 * What may hold values (the SQL text, the parameters, PostgreSQL's `detail`, which quotes the row) is kept
 * in non-enumerable properties: readable by code that asks for it, absent from logs and JSON.
 */
import { type ErrorCode, errorCodes, HttpError, WeirError } from '../errors.ts';
import { type Refusal, refusalMessage } from './refusals.ts';

/** Where an error came from: the SQL, its parameters, and the stack of the code that made the query. */
export interface QueryOrigin {
  readonly sql: string;
  readonly params: readonly unknown[];
  /** The caller's stack, captured once per call site (the driver's own stack ends in a socket callback). */
  readonly stack?: string | undefined;
}

/** Options of a {@link DatabaseError} or {@link QueryError}. */
export interface DatabaseErrorOptions {
  /** The driver's error: what the log shows after the error's own message. */
  cause?: unknown;
  /** The engine's own code (`23505`, `SQLITE_BUSY`…). */
  engineCode?: string | undefined;
  /** The constraint that refused the row (log-only). */
  constraint?: string | undefined;
  /** The table the refusal happened in (log-only). */
  table?: string | undefined;
  /** The database's URL, password removed (log-only), for errors about reaching it. */
  url?: string | undefined;
  /** The engine's detail text, which may quote the row's values: kept non-enumerable. */
  detail?: string | undefined;
  /** For a client: `{ fields }`, the columns at fault. */
  details?: { readonly fields: readonly string[] } | undefined;
  /** The query that failed: its SQL and parameters are kept non-enumerable. */
  origin?: QueryOrigin | undefined;
}

function hidden(error: Error, name: string, value: unknown): void {
  Object.defineProperty(error, name, { value, enumerable: false, writable: true, configurable: true });
}

function attach(error: Error, options: DatabaseErrorOptions): void {
  Object.defineProperty(error, 'engineCode', { value: options.engineCode, enumerable: true });
  hidden(error, 'detail', options.detail);
  const origin = options.origin;
  if (origin === undefined) return;
  hidden(error, 'sql', origin.sql);
  hidden(error, 'params', origin.params);
  if (origin.stack !== undefined) {
    error.stack = `${error.name}: ${error.message}\n${origin.stack.slice(origin.stack.indexOf('\n') + 1)}`;
  }
}

/**
 * A database error a client can be told about: 404, 409, 422 or 503. Its `message` and `details` are
 * written for the response body; what the operator needs is in `cause` and the log-only fields. Match on
 * `code`.
 */
export class DatabaseError extends HttpError {
  /** The engine's own code (`23505`, `SQLITE_BUSY`…), when the engine gave one. */
  declare readonly engineCode: string | undefined;
  /** The constraint that refused the row, when the engine names it. For logs, never for a client. */
  readonly constraint: string | undefined;
  /** The table of the refused row, when the engine names it. For logs, never for a client. */
  readonly table: string | undefined;
  /** The database's URL, password removed, on errors about reaching it. For logs, never for a client. */
  readonly url: string | undefined;
  /** For the client: the columns at fault (409, 422), when the engine names them plainly. */
  declare readonly details: { readonly fields: readonly string[] } | undefined;
  /** The engine's detail text, which may quote values (non-enumerable, so logs never carry it). */
  declare readonly detail: string | undefined;
  /** The SQL text of the failed query (non-enumerable). */
  declare readonly sql: string | undefined;
  /** The parameters of the failed query (non-enumerable, so logs never carry them). */
  declare readonly params: readonly unknown[] | undefined;

  constructor(code: ErrorCode, message: string, options: DatabaseErrorOptions = {}) {
    const headers = errorCodes[code].status === 503 ? { 'retry-after': '1' } : undefined;
    super(errorCodes[code].status, code, message, options.details, { cause: options.cause, headers });
    this.constraint = options.constraint;
    this.table = options.table;
    this.url = options.url;
    attach(this, options);
  }
}

/** A query the database refused for a reason that is the program's fault (500, message not shown). */
export class QueryError extends WeirError {
  declare readonly engineCode: string | undefined;
  /** The engine's detail text, which may quote values (non-enumerable). */
  declare readonly detail: string | undefined;
  declare readonly sql: string | undefined;
  declare readonly params: readonly unknown[] | undefined;

  constructor(code: ErrorCode, message: string, options: DatabaseErrorOptions = {}) {
    super(code, message, { cause: options.cause });
    attach(this, options);
  }
}

/**
 * `openDatabase()` could not reach the database: one line for the operator, naming the URL (password
 * removed) and the reason. A plain `WeirError`, not an `HttpError`: should a handler open a database and
 * let this propagate, the client gets the generic 500 and the host stays in the log.
 */
export function openError(url: string, reason: string, cause: unknown): WeirError {
  return new WeirError('WEIR_ERR_DB_UNAVAILABLE', `Database ${url} is unavailable: ${reason}`, { cause });
}

/**
 * The database is gone or full: 503, retry shortly. `reason` (or the driver's `cause`) is what the log
 * shows; the client reads only "The database is unavailable".
 */
export function unavailable(
  url: string,
  reason: string | undefined,
  options: DatabaseErrorOptions = {},
): DatabaseError {
  const cause = options.cause ?? new Error(`${url}: ${reason}`);
  return new DatabaseError('WEIR_ERR_DB_UNAVAILABLE', 'The database is unavailable', {
    ...options,
    cause,
    url,
  });
}

/** A transient conflict (deadlock, serialization failure, lock timeout, busy file): 503, retry. */
export function retryError(options: DatabaseErrorOptions): DatabaseError {
  return new DatabaseError(
    'WEIR_ERR_DB_RETRY',
    'The operation conflicted with another one; retry it',
    options,
  );
}

const REFUSAL_CODES: Record<Refusal['kind'], ErrorCode> = {
  unique: 'WEIR_ERR_DB_UNIQUE_VIOLATION',
  'missing-reference': 'WEIR_ERR_DB_FOREIGN_KEY_VIOLATION',
  'still-referenced': 'WEIR_ERR_DB_FOREIGN_KEY_VIOLATION',
  reference: 'WEIR_ERR_DB_FOREIGN_KEY_VIOLATION',
  'not-null': 'WEIR_ERR_DB_CONSTRAINT_VIOLATION',
  check: 'WEIR_ERR_DB_CONSTRAINT_VIOLATION',
};

/** A constraint refusal (409 or 422): the columns for the client, constraint and table for the log. */
export function refusalError(refusal: Refusal, options: DatabaseErrorOptions): DatabaseError {
  const columns = refusal.columns;
  return new DatabaseError(REFUSAL_CODES[refusal.kind], refusalMessage(refusal), {
    ...options,
    constraint: refusal.constraint,
    table: refusal.table,
    details: columns === undefined ? undefined : { fields: columns },
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
    { origin },
  );
}

/** The message an operator reads for a database error: the client's message, then the driver's. */
export function operatorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  return (err instanceof DatabaseError || err instanceof QueryError) &&
    cause instanceof Error &&
    cause.message !== err.message
    ? `${err.message} (${cause.message})`
    : err.message;
}

/**
 * Keeps a failed ROLLBACK from hiding the error that caused it: the caller gets `original`, carrying the
 * rollback's failure as its non-enumerable `rollbackError` (the first one, when savepoints nest).
 */
export function attachRollbackFailure(original: unknown, rollbackError: unknown): void {
  if (typeof original !== 'object' || original === null || !Object.isExtensible(original)) return;
  if (Object.hasOwn(original, 'rollbackError')) return;
  Object.defineProperty(original, 'rollbackError', { value: rollbackError, enumerable: false });
}
