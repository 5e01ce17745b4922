/**
 * The query methods every engine shares. An engine supplies a {@link Runner} (how to run one compiled
 * query, how to open a transaction); {@link Executor} turns the tagged-template calls into runner calls
 * and shapes the rows. A database, a transaction and a `with({ signal })` view are each an Executor over
 * the right runner.
 */
import { needsBudget, withinBudget } from '../concurrency/deadline.ts';
import type { SignalOptions } from '../concurrency/sleep.ts';
import { runInside } from '../internal/trace.ts';
import type { Database, Engine, ExecResult, PoolStats, Queryable, SqlValue } from './database.ts';
import { type QueryOrigin, rowCountError } from './errors.ts';
import { type QueryRecord, type QueryTarget, queryChannel } from './observe.ts';

/** What a runner returns for one query. */
export interface RunResult {
  readonly rows: unknown[];
  readonly rowCount: number | null;
}

/** One engine's way of running queries, outside or inside a transaction. */
export interface Runner {
  run(strings: TemplateStringsArray, values: SqlValue[], signal: AbortSignal | undefined): Promise<RunResult>;
  script(sql: string, signal: AbortSignal | undefined): Promise<void>;
  transaction<T>(fn: (runner: Runner) => Promise<T>, signal: AbortSignal | undefined): Promise<T>;
}

// A failed query's error should point at the code that made it, but by the time it fails the stack ends in
// a socket callback, and capturing one on every call costs about a microsecond. So each call site's stack
// is captured once, at its first use, keyed by its template (the same object on every call).
const origins = new WeakMap<TemplateStringsArray, string>();

function callerStack(strings: TemplateStringsArray): string | undefined {
  let stack = origins.get(strings);
  if (stack === undefined) {
    const holder: { stack?: string } = {};
    Error.captureStackTrace(holder, callerStack);
    // Drop the frames inside this file: the stack starts at the caller of query()/one()/….
    stack = (holder.stack ?? '')
      .split('\n')
      .filter((line) => !line.includes('/db/executor.'))
      .join('\n');
    origins.set(strings, stack);
  }
  return stack;
}

/** The SQL text of a template with `$n` placeholders: for messages, whatever the engine's syntax. */
export function templateText(strings: TemplateStringsArray): string {
  let text = strings[0] ?? '';
  for (let i = 1; i < strings.length; i++) text += `$${i}${strings[i]}`;
  return text;
}

// A traced query names its SQL text: made once per call site, like its stack.
const texts = new WeakMap<TemplateStringsArray, string>();

function textOf(strings: TemplateStringsArray): string {
  let text = texts.get(strings);
  if (text === undefined) {
    text = templateText(strings);
    texts.set(strings, text);
  }
  return text;
}

export function originOf(strings: TemplateStringsArray, values: readonly unknown[]): QueryOrigin {
  return { sql: templateText(strings), params: values, stack: callerStack(strings) };
}

export class Executor implements Queryable {
  readonly #runner: Runner;
  readonly #signal: AbortSignal | undefined;
  readonly #deadline: number | undefined;
  /** What traces name the database by; `undefined`: never traced (a job queue's own file). */
  readonly #target: QueryTarget | undefined;

  /** `deadline`: one `signal` does not enforce by itself (see `with()`). */
  constructor(runner: Runner, signal?: AbortSignal, deadline?: number, target?: QueryTarget) {
    this.#runner = runner;
    this.#signal = signal;
    this.#deadline = deadline;
    this.#target = target;
  }

  /**
   * Runs one query under the view's signal and deadline: not at all once either has passed, cancelled
   * (on PostgreSQL, on the server) when either fires while it runs.
   */
  #run(strings: TemplateStringsArray, values: SqlValue[]): Promise<RunResult> {
    if (this.#target !== undefined && queryChannel.start.hasSubscribers) {
      return this.#traced('query', textOf(strings), () =>
        this.#within((signal) => this.#runner.run(strings, values, signal)),
      );
    }
    return this.#within((signal) => this.#runner.run(strings, values, signal));
  }

  /** Publishes `work` on the `weir:db.query` channel. */
  #traced<T>(operation: QueryRecord['operation'], sql: string, work: () => Promise<T>): Promise<T> {
    const record: QueryRecord = { target: this.#target!, operation, sql };
    return queryChannel.tracePromise(work, record);
  }

  /** `work` under the view's signal, and under its deadline when the signal does not enforce it already. */
  #within<T>(work: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    if (this.#deadline === undefined) return work(this.#signal);
    return withinBudget({ signal: this.#signal, deadline: this.#deadline }, work);
  }

  async query<Row = Record<string, unknown>>(
    strings: TemplateStringsArray,
    ...values: SqlValue[]
  ): Promise<Row[]> {
    callerStack(strings);
    return (await this.#run(strings, values)).rows as Row[];
  }

  async one<Row = Record<string, unknown>>(
    strings: TemplateStringsArray,
    ...values: SqlValue[]
  ): Promise<Row> {
    callerStack(strings);
    const { rows } = await this.#run(strings, values);
    if (rows.length !== 1) throw rowCountError(rows.length, originOf(strings, values));
    return rows[0] as Row;
  }

  async maybeOne<Row = Record<string, unknown>>(
    strings: TemplateStringsArray,
    ...values: SqlValue[]
  ): Promise<Row | undefined> {
    callerStack(strings);
    const { rows } = await this.#run(strings, values);
    if (rows.length > 1) throw rowCountError(rows.length, originOf(strings, values));
    return rows[0] as Row | undefined;
  }

  async exec(strings: TemplateStringsArray, ...values: SqlValue[]): Promise<ExecResult> {
    callerStack(strings);
    const { rows, rowCount } = await this.#run(strings, values);
    return { rowCount: rowCount ?? rows.length };
  }

  execScript(sql: string): Promise<void> {
    if (this.#target !== undefined && queryChannel.start.hasSubscribers) {
      return this.#traced('script', sql, () => this.#within((signal) => this.#runner.script(sql, signal)));
    }
    return this.#within((signal) => this.#runner.script(sql, signal));
  }

  /**
   * The transaction runs under the view's signal and deadline; its queries too (rolled back at either).
   * Traced, its function runs with the transaction's span active, so its queries nest under it.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const target = this.#target;
    const run = (record?: QueryRecord) =>
      this.#within((signal) =>
        this.#runner.transaction((runner) => {
          const tx = new Executor(runner, signal, undefined, target);
          return runInside(record, () => fn(tx));
        }, signal),
      );
    if (target === undefined || !queryChannel.start.hasSubscribers) return run();
    const record: QueryRecord = { target, operation: 'transaction', sql: '' };
    return queryChannel.tracePromise(() => run(record), record);
  }

  /** A view whose queries run under `options.signal` and `options.deadline` (pass a request's `ctx`). */
  with(options: SignalOptions): Queryable {
    // A deadline the signal enforces already (a request's: `db.with(ctx)`) needs nothing per query.
    return new Executor(
      this.#runner,
      options.signal,
      needsBudget(options) ? options.deadline : undefined,
      this.#target,
    );
  }
}

/** An engine's connection state, as its database class sees it: the outside runner and the lifecycle. */
export interface EngineState {
  readonly outer: Runner;
  readonly closing: boolean;
  close(): Promise<void>;
  /** The connections now; zeros but `max` once closed. Must not throw. */
  stats(): PoolStats;
}

/** What every engine's `Database` shares: the URL, the query methods over its runner, the lifecycle. */
export abstract class EngineDatabase<S extends EngineState> extends Executor implements Database {
  abstract readonly engine: Engine;
  /** The URL it was opened with, password removed. */
  readonly url: string;
  /** The engine's state, for the subclass's own accessors (`pool`, `connection`). */
  protected readonly state: S;

  /** `target`: how traces name it; `undefined` keeps its queries out of traces (a job queue's own file). */
  constructor(url: string, state: S, target: QueryTarget | undefined) {
    super(state.outer, undefined, undefined, target);
    this.url = url;
    this.state = state;
  }

  get closing(): boolean {
    return this.state.closing;
  }

  close(): Promise<void> {
    return this.state.close();
  }

  poolStats(): PoolStats {
    return this.state.stats();
  }
}
