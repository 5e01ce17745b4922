/**
 * PostgreSQL through node-postgres (`pg`): a pool of connections, each query a named prepared statement
 * (parsed and planned once per connection, then only bound and executed).
 *
 * Cancellation: when a query's signal fires, the caller's promise rejects at once with the signal's reason,
 * and the server is sent the protocol's CancelRequest for that connection. The connection goes back to the
 * pool only after the query has settled and the cancel request is done, so a late cancel can never hit the
 * next query on that connection.
 *
 * Bounds: `max` connections; at most `maxWaiting` queries wait for one (one more gets 503 at once), each
 * for at most `acquireTimeoutMs` (then 503).
 */
import type * as Pg from 'pg';
import { Lock } from '../concurrency/lock.ts';
import { abortHook, onAbort, reasonOf } from '../concurrency/signal.ts';
import { invalidOption } from '../errors.ts';
import type { SqlValue } from './database.ts';
import { loadDriver } from './driver.ts';
import type { PostgresPool } from './driver-types.ts';
import { closedError, type QueryOrigin, redactUrl, unavailable } from './errors.ts';
import { EngineDatabase, originOf, type Runner, type RunResult, templateText } from './executor.ts';
import { cancelQuery } from './postgres-cancel.ts';
import { brokenConnection, checkValues, translate } from './postgres-errors.ts';

/** Options of a PostgreSQL database. */
export interface PostgresOptions {
  /** Most connections open at once. @default 16 */
  max?: number;
  /** Most queries waiting for a free connection; one more is refused with 503 at once. @default 10000 */
  maxWaiting?: number;
  /** How long a query waits for a free connection before 503. @default 10000 */
  acquireTimeoutMs?: number;
  /** How long an unused connection stays open. @default 30000 */
  idleTimeoutMs?: number;
  /** Called when an idle pooled connection fails (the pool drops it and opens another when needed). */
  onIdleError?: (error: Error) => void;
}

type PgModule = typeof Pg;
type Client = Pg.PoolClient;

/** Opens a pool and checks that the server answers; an unreachable server fails with one line. */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<PostgresDatabase> {
  const max = options.max ?? 16;
  if (!Number.isInteger(max) || max < 1) throw invalidOption('max', 'an integer ≥ 1', max);
  const pg = await loadDriver<PgModule>('pg', 'postgres');
  const pool = new pg.Pool({
    connectionString: url,
    max,
    connectionTimeoutMillis: options.acquireTimeoutMs ?? 10_000,
    idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
    application_name: 'weir',
    types: { getTypeParser: typeParser(pg) },
  });
  // An idle connection that dies emits 'error' on the pool; unheard, that would crash the process.
  pool.on('error', options.onIdleError ?? (() => {}));
  const shown = redactUrl(url);
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await pool.end().catch(() => {});
    throw unavailable(shown, (err as Error).message, err);
  }
  return new PostgresDatabase(shown, new PostgresState(pg, pool, shown, max, options.maxWaiting ?? 10_000));
}

/**
 * Integers as numbers: `count(*)` and `bigserial` are int8, which pg would hand over as strings. One
 * beyond 2^53 comes as a `bigint` rather than losing digits. `numeric` stays a string.
 */
function typeParser(pg: PgModule): Pg.CustomTypesConfig['getTypeParser'] {
  const int8 = (text: string): number | bigint => {
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  };
  return ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 && format !== 'binary'
      ? int8
      : pg.types.getTypeParser(oid, format)) as Pg.CustomTypesConfig['getTypeParser'];
}

/** The PostgreSQL engine behind `openDatabase('postgres://…')`. */
export class PostgresDatabase extends EngineDatabase<PostgresState> {
  readonly engine = 'postgres' as const;

  /** The pg pool, for what the interface does not cover (LISTEN/NOTIFY, COPY). */
  get pool(): PostgresPool {
    return this.state.pool;
  }
}

interface Prepared {
  readonly name: string;
  readonly text: string;
}

let statementIds = 0;

type QueryCallback = (error: Error | null, result: Pg.QueryResult) => void;
/** pg's Query as weir uses it: the constructor takes the callback, and `name` is a plain field. */
type QueryConstructor = new (
  text: string,
  values: unknown[] | undefined,
  callback: QueryCallback,
) => { name?: string };

class PostgresState {
  /** @internal */
  readonly pool: Pg.Pool;
  readonly outer: Runner;
  closing = false;
  #closed: Promise<void> | undefined;
  readonly #pg: PgModule;
  readonly #Query: QueryConstructor;
  readonly #target: string;
  readonly #max: number;
  readonly #capacity: number;
  // Connections asked for and not yet given back: held ones plus waiting requests.
  #demand = 0;
  #idle: (() => void) | undefined;
  readonly #prepared = new WeakMap<TemplateStringsArray, Prepared>();

  /** @internal */
  constructor(pg: PgModule, pool: Pg.Pool, target: string, max: number, maxWaiting: number) {
    this.#pg = pg;
    this.#Query = pg.Query as unknown as QueryConstructor;
    this.pool = pool;
    this.#target = target;
    this.#max = max;
    this.#capacity = max + maxWaiting;
    this.outer = {
      run: (strings, values, signal) => this.#runPooled(strings, values, signal),
      script: async (sql, signal) => {
        const client = await this.acquire(signal);
        const { result, free } = this.send(client, { text: sql }, signal, { sql, params: [] });
        free.then((broken) => this.release(client, broken));
        await result;
      },
      transaction: (fn, signal) => this.#transaction(fn, signal),
    };
  }

  /**
   * A connection from the pool: 503 when `max + maxWaiting` are already asked for, or when none frees in
   * time; the signal withdraws the request. Every connection it gives must go back through `release`.
   * @internal
   */
  async acquire(signal: AbortSignal | undefined): Promise<Client> {
    const refused = this.#refusal(signal);
    if (refused !== undefined) throw refused;
    this.#demand++;
    const pending = this.pool.connect().catch((err: unknown) => {
      this.#settle();
      throw translate(err, this.#target, undefined);
    });
    if (signal === undefined) return pending;
    return new Promise<Client>((resolve, reject) => {
      const detach = onAbort(signal, () => {
        reject(reasonOf(signal));
        // The connection still arrives later: hand it straight back.
        pending.then(
          (client) => this.release(client, undefined),
          () => {},
        );
      });
      pending.then(
        (client) => {
          detach();
          if (!signal.aborted) resolve(client);
        },
        (err: unknown) => {
          detach();
          reject(err);
        },
      );
    });
  }

  /** Why a request for a connection is refused now (closed, aborted, `max + maxWaiting` asked), if it is. */
  #refusal(signal: AbortSignal | undefined): unknown {
    if (this.closing) return closedError();
    if (signal?.aborted) return reasonOf(signal);
    if (this.#demand >= this.#capacity) {
      return unavailable(this.#target, `${this.#demand - this.#max} queries already wait for a connection`);
    }
    return undefined;
  }

  /** Gives a connection back; with `broken`, the pool closes it instead of reusing it. @internal */
  release(client: Client, broken: Error | undefined): void {
    client.release(broken);
    this.#settle();
  }

  #settle(): void {
    if (--this.#demand === 0) this.#idle?.();
  }

  close(): Promise<void> {
    this.closing = true;
    // Running queries finish first: pg's pool would cut a connection that is still being opened.
    this.#closed ??= (
      this.#demand === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.#idle = resolve;
          })
    ).then(() => this.pool.end());
    return this.#closed;
  }

  /**
   * Sends one query on `client`. `result` settles with pg's result, or at once with the signal's reason
   * when it fires (the query is then cancelled on the server). `free` resolves when the connection can
   * take another query (the query is over and any cancel request is done), to the error to release it
   * with when it is broken.
   * @internal
   */
  send(
    client: Client,
    config: Pg.QueryConfig,
    signal: AbortSignal | undefined,
    origin: QueryOrigin,
  ): { result: Promise<Pg.QueryResult>; free: Promise<Error | undefined> } {
    let cancelled: Promise<void> | undefined;
    const query = client.query(config).catch((err: unknown) => {
      throw signal?.aborted ? reasonOf(signal) : translate(err, this.#target, origin);
    });
    const free = query.then(
      () => undefined,
      (err: unknown) => brokenConnection(err),
    );
    if (signal === undefined) return { result: query, free };
    if (signal.aborted) cancelled = this.#cancel(client);
    const detach = onAbort(signal, () => {
      cancelled = this.#cancel(client);
    });
    const result = new Promise<Pg.QueryResult>((resolve, reject) => {
      const stop = onAbort(signal, () => reject(reasonOf(signal)));
      query.then(resolve, reject).finally(stop);
    });
    return {
      result,
      free: free.then(async (broken) => {
        detach();
        await cancelled;
        return broken;
      }),
    };
  }

  #runPooled(
    strings: TemplateStringsArray,
    values: SqlValue[],
    signal: AbortSignal | undefined,
  ): Promise<RunResult> {
    const config = this.#config(strings, values);
    const refused = this.#refusal(signal);
    if (refused !== undefined) return Promise.reject(refused);
    return signal === undefined
      ? this.#runPlain(config, strings, values)
      : this.#runCancellable(config, strings, values, signal);
  }

  /**
   * A pooled query that the signal cancels, on pg's callback API (one promise, one abort hook):
   * - abort while waiting for a connection: reject; the connection, when it comes, goes straight back;
   * - abort while the query runs: reject, send the CancelRequest, and give the connection back only when
   *   both the query and the cancel request are over, so the cancel cannot hit the next query.
   */
  #runCancellable(
    config: Pg.QueryConfig,
    strings: TemplateStringsArray,
    values: SqlValue[],
    signal: AbortSignal,
  ): Promise<RunResult> {
    this.#demand++;
    return new Promise<RunResult>((resolve, reject) => {
      let client: Client | undefined;
      let running = false;
      let cancelled: Promise<void> | undefined;
      const unhook = abortHook(signal, () => {
        reject(reasonOf(signal));
        if (running && client !== undefined) cancelled = this.#cancel(client);
      });
      this.pool.connect((connectError, pooled, done) => {
        if (connectError !== undefined && connectError !== null) {
          unhook();
          this.#settle();
          reject(translate(connectError, this.#target, undefined));
          return;
        }
        if (signal.aborted) {
          done();
          this.#settle();
          return;
        }
        client = pooled as Client;
        running = true;
        this.#submit(client, config, (queryError, result) => {
          running = false;
          unhook();
          const error =
            queryError === null || queryError === undefined
              ? undefined
              : translate(queryError, this.#target, originOf(strings, values));
          const free = (): void => {
            done(brokenConnection(error));
            this.#settle();
          };
          if (cancelled === undefined) free();
          else cancelled.then(free);
          if (signal.aborted) return;
          if (error === undefined) resolve(result);
          else reject(error);
        });
      });
    });
  }

  /**
   * The common case, a query with no signal, on pg's callback API: one promise per query instead of
   * the six the promise API and a cancellable hand-off would cost.
   */
  #runPlain(config: Pg.QueryConfig, strings: TemplateStringsArray, values: SqlValue[]): Promise<RunResult> {
    this.#demand++;
    return new Promise<RunResult>((resolve, reject) => {
      this.pool.connect((connectError, client, done) => {
        if (connectError !== undefined && connectError !== null) {
          this.#settle();
          reject(translate(connectError, this.#target, undefined));
          return;
        }
        this.#submit(client as Client, config, (queryError, result) => {
          if (queryError === null || queryError === undefined) {
            done();
            this.#settle();
            resolve(result);
            return;
          }
          const error = translate(queryError, this.#target, originOf(strings, values));
          done(brokenConnection(error));
          this.#settle();
          reject(error);
        });
      });
    });
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
    const { name, text } = this.#statement(strings);
    return { name, text, values: values as unknown[] };
  }

  #statement(strings: TemplateStringsArray): Prepared {
    let prepared = this.#prepared.get(strings);
    if (prepared === undefined) {
      prepared = { name: `weir_${++statementIds}`, text: templateText(strings) };
      this.#prepared.set(strings, prepared);
    }
    return prepared;
  }

  async #transaction<T>(fn: (runner: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const client = await this.acquire(signal);
    let broken: Error | undefined;
    try {
      return await this.#within(client, new Lock(), fn, signal, 'BEGIN', 'COMMIT', 'ROLLBACK');
    } catch (err) {
      broken = brokenConnection(err);
      throw err;
    } finally {
      this.release(client, broken);
    }
  }

  /**
   * Runs `fn` between `begin` and `commit` (or `rollback`) on one connection. Its queries take turns
   * through `turns`: one connection runs one query at a time, and pg's own queueing is deprecated.
   */
  async #within<T>(
    client: Client,
    turns: Lock,
    fn: (runner: Runner) => Promise<T>,
    signal: AbortSignal | undefined,
    begin: string,
    commit: string,
    rollback: string,
  ): Promise<T> {
    if (signal?.aborted) throw reasonOf(signal);
    await this.#control(client, turns, begin);
    let savepoints = 0;
    const inner: Runner = {
      run: async (strings, values, querySignal) => {
        const config = this.#config(strings, values);
        const release = await turns.acquire({ signal: querySignal });
        const { result, free } = this.send(client, config, querySignal, originOf(strings, values));
        free.then(release);
        return result;
      },
      script: async (sql, querySignal) => {
        const release = await turns.acquire({ signal: querySignal });
        const { result, free } = this.send(client, { text: sql }, querySignal, { sql, params: [] });
        free.then(release);
        await result;
      },
      transaction: (nested, nestedSignal) => {
        const name = `weir_sp_${++savepoints}`;
        return this.#within(
          client,
          turns,
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
      await this.#control(client, turns, rollback);
      throw err;
    }
    await this.#control(client, turns, commit);
    return result;
  }

  /** BEGIN, COMMIT, ROLLBACK, SAVEPOINT: in turn with the transaction's queries (a cancelled one may run). */
  async #control(client: Client, turns: Lock, sql: string): Promise<void> {
    using _turn = await turns.acquire();
    await this.send(client, { text: sql }, undefined, { sql, params: [] }).result;
  }
  #cancel(client: Client): Promise<void> {
    return cancelQuery(this.#pg, this.pool, client);
  }
}
