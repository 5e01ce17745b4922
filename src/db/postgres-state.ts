/**
 * The connections of a PostgreSQL database, and the one path every query takes through them (`#perform`):
 * a pooled query, a query or script inside a transaction, BEGIN, COMMIT, ROLLBACK and savepoints alike.
 *
 *   waiting ──connection──▶ running ──result or error──▶ settled ──▶ handed back
 *     │ abort: reject now;     │ abort: reject now and send the CancelRequest; the connection is
 *     │ the connection, when   │ handed back once the query has settled and the cancel is over, or
 *     ▼ it comes, goes back    ▼ destroyed when the cancel did not finish within cancelTimeoutMs
 *
 * Inputs: where the connection comes from (the pool; or a transaction's own connection, taken in turn,
 * since one connection runs one query at a time and pg's own queueing is deprecated), the statement, and
 * an optional signal.
 * Output: one promise, settled once: the result, the translated error, or the signal's reason the moment
 * it fires.
 * Guarantees: a connection is handed back exactly once, never while its query or a cancel request for it
 * is in flight (a late cancel would hit the next query); one that broke, or whose cancel timed out, is
 * destroyed instead of reused. Pooled connections asked for and not yet handed back are counted in
 * `#demand` (postgres-demand.ts): that bounds waiting (`max + maxWaiting`, then 503 at once), lets
 * close() wait for them, and times each for the `weir:db.acquire` channel.
 * Connection-level trouble no caller sees (an idle connection that dies, an unreachable server, a cancel
 * that timed out) is logged once, at warn, naming host:port, never the password.
 */
import type * as Pg from 'pg';
import { Lock, type Releaser } from '../concurrency/lock.ts';
import { abortHook, noop, reasonOf } from '../concurrency/signal.ts';
import type { Logger } from '../internal/logger.ts';
import type { PoolStats, SqlValue } from './database.ts';
import { attachRollbackFailure, closedError, type QueryOrigin } from './errors.ts';
import { originOf, type Runner, type RunResult, templateText } from './executor.ts';
import { hostOf } from './log.ts';
import { cancelQuery, destroyConnection } from './postgres-cancel.ts';
import { PoolDemand } from './postgres-demand.ts';
import { brokenConnection, checkValues, translate } from './postgres-errors.ts';
import { IdleSweep } from './postgres-idle.ts';

type PgModule = typeof Pg;
type Client = Pg.PoolClient;
/** Gives a connection back: pg's pool `done(broken)`, or a transaction's turn releaser. */
type HandBack = (broken?: Error) => void;

/** The settings the state runs with, checked by openPostgres. */
export interface PostgresSettings {
  readonly url: string;
  readonly connectionString: string;
  readonly max: number;
  readonly maxWaiting: number;
  readonly cancelTimeoutMs: number;
  /** How long a request waits for a pooled connection (0: for ever); see postgres-wait.ts. */
  readonly acquireTimeoutMs: number;
  /** Unused connections are closed after this (0: never); see postgres-idle.ts. */
  readonly idleTimeoutMs: number;
  readonly log: Logger;
}

interface Prepared {
  readonly name: string;
  readonly text: string;
}

/** A transaction's connection: its queries take `turns`; `broken` destroys it when the transaction ends. */
interface Held {
  readonly client: Client;
  readonly turns: Lock;
  broken: Error | undefined;
  savepoints: number;
}

let statementIds = 0;
const NO_VALUES: readonly unknown[] = [];

type QueryCallback = (error: Error | null, result: Pg.QueryResult) => void;
/** pg's Query as weir uses it: the constructor takes the callback, and `name` is a plain field. */
type QueryConstructor = new (
  text: string,
  values: unknown[] | undefined,
  callback: QueryCallback,
) => { name?: string };

export class PostgresState {
  /** @internal */
  readonly pool: Pg.Pool;
  readonly outer: Runner;
  closing = false;
  #closed: Promise<void> | undefined;
  readonly #pg: PgModule;
  readonly #Query: QueryConstructor;
  readonly #url: string;
  readonly #host: string;
  readonly #settings: PostgresSettings;
  readonly #log: Logger;
  readonly #demand: PoolDemand;
  readonly #idle: IdleSweep | undefined;
  readonly #prepared = new WeakMap<TemplateStringsArray, Prepared>();
  // Connections whose failure is logged already: one line per connection, however it goes on failing.
  readonly #reported = new WeakSet<Pg.ClientBase>();
  // False from a failed connect until the next successful one: one warning per outage, not per query.
  #reachable = true;

  /** @internal */
  constructor(pg: PgModule, pool: Pg.Pool, settings: PostgresSettings) {
    this.#pg = pg;
    this.#Query = pg.Query as unknown as QueryConstructor;
    this.pool = pool;
    this.#settings = settings;
    this.#url = settings.url;
    this.#host = hostOf(settings.url);
    this.#log = settings.log;
    this.#demand = new PoolDemand(pool, settings);
    this.#idle = settings.idleTimeoutMs > 0 ? new IdleSweep(pool, settings.idleTimeoutMs) : undefined;
    pool.on('connect', (client) => {
      // pg's pool listens for a connection's errors only while it is idle: one that fails while checked
      // out (a reset socket) would emit 'error' unheard and crash the process.
      client.on('error', (err) => this.#connectionFailed(client, err));
      if (!this.#reachable) {
        this.#reachable = true;
        this.#log.info({ db: this.#host }, `the database at ${this.#host} answers again`);
      }
    });
    this.outer = {
      run: (strings, values, signal) => {
        const config = this.#config(strings, values);
        const refused = this.#refusal(signal);
        if (refused !== undefined) return Promise.reject(refused);
        return this.#perform(undefined, config, strings, values, signal);
      },
      script: (sql, signal) => {
        const refused = this.#refusal(signal);
        if (refused !== undefined) return Promise.reject(refused);
        return this.#perform(undefined, { text: sql }, sql, NO_VALUES, signal).then(noop);
      },
      transaction: (fn, signal) => this.#transaction(fn, signal),
    };
  }

  /** Why a request for a pooled connection is refused now (closed, aborted, `max + maxWaiting` asked). */
  #refusal(signal: AbortSignal | undefined): unknown {
    if (this.closing) return closedError();
    if (signal?.aborted) return reasonOf(signal);
    return this.#demand.refusal();
  }

  stats(): PoolStats {
    return this.#demand.stats();
  }

  /**
   * The one path of a query, described in the header. `source` and `values` only build the error's
   * origin, and only when it fails.
   */
  #perform(
    held: Held | undefined,
    config: Pg.QueryConfig,
    source: TemplateStringsArray | string,
    values: readonly unknown[],
    signal: AbortSignal | undefined,
  ): Promise<RunResult> {
    return new Promise<RunResult>((resolve, reject) => {
      let running: Client | undefined;
      let cancelled: Promise<boolean> | undefined;
      const wait = held === undefined ? this.#demand.ask(reject) : undefined;
      const unhook =
        signal === undefined
          ? noop
          : abortHook(signal, () => {
              reject(reasonOf(signal));
              wait?.timer?.end(false);
              if (running !== undefined) cancelled = this.#cancel(running);
            });
      this.#take(held, signal, (takeError, client, handBack) => {
        if (wait !== undefined) this.#demand.answered(wait, takeError);
        if (takeError !== undefined && takeError !== null) {
          unhook();
          reject(held === undefined ? this.#connectFailed(takeError, origin(source, values)) : takeError);
          return;
        }
        if (signal?.aborted || wait?.expired) {
          unhook();
          this.#handBack(held, handBack, undefined);
          return;
        }
        running = client;
        this.#submit(client, config, (queryError, result) => {
          running = undefined;
          unhook();
          const error =
            queryError === null || queryError === undefined
              ? undefined
              : translate(queryError, this.#url, origin(source, values));
          if (cancelled === undefined) this.#handBack(held, handBack, brokenConnection(error));
          else {
            cancelled.then((clean) =>
              this.#handBack(held, handBack, clean ? brokenConnection(error) : cancelTimedOut()),
            );
          }
          if (signal?.aborted) return;
          if (error === undefined) resolve(result);
          else reject(error);
        });
      });
    });
  }

  /**
   * A connection for one query: from the pool (the caller has counted the request in `#demand`), or the
   * transaction's, in turn.
   */
  #take(
    held: Held | undefined,
    signal: AbortSignal | undefined,
    onConnection: (error: unknown, client: Client, handBack: HandBack) => void,
  ): void {
    if (held === undefined) {
      this.#demand.connect(onConnection);
      return;
    }
    held.turns.acquire({ signal }).then(
      (release: Releaser) => onConnection(undefined, held.client, release),
      (err: unknown) => onConnection(err, held.client, noop),
    );
  }

  #handBack(held: Held | undefined, handBack: HandBack, broken: Error | undefined): void {
    if (held === undefined) {
      handBack(broken);
      this.#demand.settle();
      return;
    }
    if (broken !== undefined) held.broken ??= broken;
    handBack();
  }

  /** A pooled connection could not be had: settles its demand; logs once per outage when unreachable. */
  #connectFailed(err: unknown, from: QueryOrigin | undefined): unknown {
    this.#demand.settle();
    const error = translate(err, this.#url, from);
    // A code means the server or the network said no (ECONNREFUSED, 28P01, 53300…); without one it is
    // pg's pool timing out on a busy pool, which is load, not an outage.
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && this.#reachable) {
      this.#reachable = false;
      this.#log.warn(
        { db: this.#host, engineCode: code, reason: (err as Error).message },
        `the database at ${this.#host} cannot be reached: ${(err as Error).message}`,
      );
    }
    return error;
  }

  /** A connection failed (idle or busy): one warning per connection; the pool opens another on demand. */
  #connectionFailed(client: Pg.ClientBase, err: Error & { code?: string }): void {
    if (this.#reported.has(client)) return;
    this.#reported.add(client);
    this.#log.warn(
      { db: this.#host, engineCode: err.code, reason: err.message },
      `a connection to ${this.#host} failed (${err.message}); the pool replaces it`,
    );
  }

  /**
   * Cancels the query running on `client`. Resolves to whether the connection can run another query;
   * when the cancel request did not finish in time, the connection is cut at once (its query ends with
   * it) so that the caller destroys it.
   */
  #cancel(client: Client): Promise<boolean> {
    const ms = this.#settings.cancelTimeoutMs;
    return cancelQuery(this.#pg, this.#settings.connectionString, client, ms).then((clean) => {
      if (!clean) {
        this.#reported.add(client);
        this.#log.warn(
          { db: this.#host },
          `a cancel request to ${this.#host} did not finish within cancelTimeoutMs (${ms} ms); its connection is closed instead of reused`,
        );
        destroyConnection(client);
      }
      return clean;
    });
  }

  close(): Promise<void> {
    this.closing = true;
    this.#idle?.stop();
    // Running queries finish first: pg's pool would cut a connection that is still being opened.
    this.#closed ??= this.#demand.drained().then(() => this.pool.end());
    return this.#closed;
  }

  /**
   * Sends a prepared statement as a `pg.Query` built from its text: handed a config object instead, pg
   * copies it property by property on every query (`cloneQueryConfig`), measured at about 4 % of the
   * CPU of 20-query requests.
   */
  #submit(client: Client, config: Pg.QueryConfig, callback: QueryCallback): void {
    const query = new this.#Query(config.text, config.values, callback);
    query.name = config.name;
    client.query(query as unknown as Pg.Submittable);
  }

  #config(strings: TemplateStringsArray, values: SqlValue[]): Pg.QueryConfig {
    checkValues(values, strings);
    let prepared = this.#prepared.get(strings);
    if (prepared === undefined) {
      prepared = { name: `weir_${++statementIds}`, text: templateText(strings) };
      this.#prepared.set(strings, prepared);
    }
    return { name: prepared.name, text: prepared.text, values: values as unknown[] };
  }

  async #transaction<T>(fn: (runner: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const { client, handBack } = await this.#hold(signal);
    const held: Held = { client, turns: new Lock(), broken: undefined, savepoints: 0 };
    try {
      return await this.#within(held, fn, signal, 'BEGIN', 'COMMIT', 'ROLLBACK');
    } finally {
      this.#handBack(undefined, handBack, held.broken);
    }
  }

  /** A pooled connection held for a transaction; the signal withdraws the request while it waits. */
  #hold(signal: AbortSignal | undefined): Promise<{ client: Client; handBack: HandBack }> {
    const refused = this.#refusal(signal);
    if (refused !== undefined) return Promise.reject(refused);
    return new Promise((resolve, reject) => {
      const wait = this.#demand.ask(reject);
      const unhook =
        signal === undefined
          ? noop
          : abortHook(signal, () => {
              reject(reasonOf(signal));
              wait.timer?.end(false);
            });
      this.#take(undefined, undefined, (takeError, client, handBack) => {
        this.#demand.answered(wait, takeError);
        unhook();
        if (takeError !== undefined && takeError !== null) reject(this.#connectFailed(takeError, undefined));
        else if (signal?.aborted || wait.expired) this.#handBack(undefined, handBack, undefined);
        else resolve({ client, handBack });
      });
    });
  }

  /** Runs `fn` between `begin` and `commit`, or `rollback` when it throws, on the held connection. */
  async #within<T>(
    held: Held,
    fn: (runner: Runner) => Promise<T>,
    signal: AbortSignal | undefined,
    begin: string,
    commit: string,
    rollback: string,
  ): Promise<T> {
    if (signal?.aborted) throw reasonOf(signal);
    await this.#control(held, begin);
    const inner: Runner = {
      run: (strings, values, querySignal) =>
        this.#perform(held, this.#config(strings, values), strings, values, querySignal),
      script: (sql, querySignal) =>
        this.#perform(held, { text: sql }, sql, NO_VALUES, querySignal).then(noop),
      transaction: (nested, nestedSignal) => {
        const name = `weir_sp_${++held.savepoints}`;
        return this.#within(
          held,
          nested,
          nestedSignal,
          `SAVEPOINT ${name}`,
          `RELEASE SAVEPOINT ${name}`,
          `ROLLBACK TO SAVEPOINT ${name}`,
        );
      },
    };
    let result: T;
    try {
      result = await fn(inner);
    } catch (err) {
      await this.#rollback(held, rollback, err);
      throw err;
    }
    await this.#control(held, commit);
    return result;
  }

  /** BEGIN, COMMIT, RELEASE…: in turn with the transaction's queries, never cancelled. */
  #control(held: Held, sql: string): Promise<RunResult> {
    return this.#perform(held, { text: sql }, sql, NO_VALUES, undefined);
  }

  /**
   * Rolls back after `original` ended the transaction's function. When the ROLLBACK fails too (the
   * connection broke), the caller still gets `original`, with the failure attached and logged, and the
   * connection, in an unknown state, is destroyed.
   */
  async #rollback(held: Held, sql: string, original: unknown): Promise<void> {
    try {
      await this.#control(held, sql);
    } catch (rollbackError) {
      held.broken ??= rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      attachRollbackFailure(original, rollbackError);
      this.#log.error(
        { err: rollbackError, db: this.#host, failedWith: (original as { code?: unknown })?.code },
        `${sql} failed after the transaction's function threw; the caller gets the function's error`,
      );
    }
  }
}

/** The origin of a failed query: its SQL and values (kept off logs), and its call site. */
function origin(source: TemplateStringsArray | string, values: readonly unknown[]): QueryOrigin {
  return typeof source === 'string' ? { sql: source, params: NO_VALUES } : originOf(source, values);
}

function cancelTimedOut(): Error {
  return new Error('the cancel request did not finish within cancelTimeoutMs');
}
