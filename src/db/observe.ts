/**
 * What a database tells observers: one message per connection acquisition on the `weir:db.acquire`
 * diagnostics channel, and each query, script and transaction on the `weir:db.query` tracing channel.
 * weir/observability's metrics and tracing subscribe to them; with no subscriber, an acquisition pays one
 * `hasSubscribers` check and reads no clock, and so does a query.
 *
 * An acquisition is a query, script or transaction made outside a transaction asking for a connection:
 * PostgreSQL, a pooled one; SQLite, the one connection (at once, unless a transaction holds it). Queries
 * inside a transaction use its connection and acquire none. A query on a closed database, or whose signal
 * has fired already, asks for nothing and publishes nothing.
 */
import { channel, tracingChannel } from 'node:diagnostics_channel';
import type { Engine } from './database.ts';

/** One connection acquisition: got, or refused. */
export interface AcquireRecord {
  /** `postgres` or `sqlite`. */
  readonly driver: Engine;
  /** From asking for a connection to getting it, or to being refused; 0 when it came (or was refused) at once. */
  readonly waitedMs: number;
  /**
   * False when refused: `maxWaiting` already waiting, `acquireTimeoutMs` passed, the signal or deadline
   * fired while it waited, or (PostgreSQL) no connection could be opened.
   */
  readonly ok: boolean;
}

/** `weir:db.acquire`: an {@link AcquireRecord} per connection acquisition, once it is settled. */
export const acquireChannel = channel('weir:db.acquire');

/** Publishes an acquisition settled without waiting. */
export function acquiredAtOnce(driver: Engine, ok: boolean): void {
  if (acquireChannel.hasSubscribers) {
    const record: AcquireRecord = { driver, waitedMs: 0, ok };
    acquireChannel.publish(record);
  }
}

/** A waiting acquisition, timed from its start; {@link AcquireTimer.end} publishes it once. */
export class AcquireTimer {
  readonly #driver: Engine;
  readonly #asked = performance.now();
  #ended = false;

  constructor(driver: Engine) {
    this.#driver = driver;
  }

  /** Publishes the outcome; later calls (a connection arriving for a caller who gave up) do nothing. */
  end(ok: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    const record: AcquireRecord = { driver: this.#driver, waitedMs: performance.now() - this.#asked, ok };
    acquireChannel.publish(record);
  }
}

/** A timer for an acquisition that may wait, or undefined (no clock read) while no one subscribes. */
export function startAcquire(driver: Engine): AcquireTimer | undefined {
  return acquireChannel.hasSubscribers ? new AcquireTimer(driver) : undefined;
}

/** The database a query goes to, as a trace names it: made once per database. */
export interface QueryTarget {
  /** `postgres` or `sqlite`. */
  readonly engine: Engine;
  /** PostgreSQL: the database's name; SQLite: the file's path (`:memory:` for none). */
  readonly namespace: string;
  /** PostgreSQL: the server's host and port, as the URL names them (never its user or password). */
  readonly host?: string;
  readonly port?: number;
}

/**
 * One traced operation: the context object of the `weir:db.query` tracing channel (`start`, `end`,
 * `asyncStart`, `asyncEnd`, `error`, as `tracePromise()` publishes them).
 */
export interface QueryRecord {
  readonly target: QueryTarget;
  /** `query`: one tagged-template query; `script`: `execScript()`; `transaction`: a transaction's function. */
  readonly operation: 'query' | 'script' | 'transaction';
  /** The SQL with `$1`, `$2`… where values go (never a value); a script's text; `''` for a transaction. */
  readonly sql: string;
  /** Set when it failed. */
  error?: unknown;
  result?: unknown;
}

/** `weir:db.query`: a {@link QueryRecord} per query, script and transaction of a database opened by weir. */
export const queryChannel = tracingChannel<object, QueryRecord>('weir:db.query');
