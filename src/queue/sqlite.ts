/**
 * The embedded job queue: one table in a SQLite file (WAL, `synchronous=FULL` by default, so a job
 * whose `add()` resolved survives a crash of the process and of the machine). Several processes share
 * the file: a worker claims jobs in one `UPDATE … RETURNING` under SQLite's write lock, holds them by a
 * lease it renews while the handler runs, and a job whose lease runs out (its worker died) is claimed
 * again: at-least-once delivery.
 */
import { randomUUID } from 'node:crypto';
import { abortHook, reasonOf } from '../concurrency/signal.ts';
import type { Database, Queryable } from '../db/database.ts';
import { openSqlite } from '../db/sqlite.ts';
import type { Logger } from '../internal/logger.ts';
import { jsonTraceGetter } from '../internal/trace.ts';
import type { Backoff } from './backoff.ts';
import { BaseJobQueue, type JobQueueOptions, type PreparedAdd, storedTimeout } from './base.ts';
import type { Delivery, Source } from './runner.ts';
import { addMissingColumns, info, type Row, resultText, SCHEMA } from './sqlite-schema.ts';
import type {
  Added,
  DeadLetters,
  DeadListOptions,
  JobCounts,
  JobInfo,
  JobQueue,
  JobState,
  JobStatus,
} from './types.ts';

const PURGE_EVERY_MS = 60_000;

/**
 * A delivery and the lease token it holds its job by (one per claim, shared by the jobs it took). Kept
 * on the delivery rather than in a WeakMap, whose entry per job measured about 3% of a no-op job's CPU.
 */
interface Leased extends Delivery {
  readonly token: string;
}

/**
 * The embedded job queue. It keeps every job's state, so it offers every capability directly: `get()`,
 * `counts()`, `dead()`, `retryDead()`, and priorities.
 */
export class SqliteJobQueue<T = unknown>
  extends BaseJobQueue<T>
  implements JobQueue<T>, JobStatus<T>, DeadLetters<T>
{
  readonly backend = 'sqlite';
  readonly capabilities = { status: true, deadLetters: true, priority: true } as const;
  readonly #db: Database;
  readonly #pollInterval: number;
  readonly #keepCompleted: number;
  /** Woken by a local add(), so a consumer in this process does not wait for its next poll. */
  readonly #wakers = new Set<() => void>();
  #lastPurge = 0;
  /** Writes waiting for the next group commit. */
  #pending: {
    op: (q: Queryable) => Promise<unknown>;
    resolve(v: unknown): void;
    reject(e: unknown): void;
  }[] = [];

  private constructor(name: string, url: string, db: Database, options: JobQueueOptions, log: Logger) {
    super(name, url, options, log);
    this.#db = db;
    this.#pollInterval = options.pollIntervalMs ?? 100;
    this.#keepCompleted = options.keepCompletedMs ?? 86_400_000;
  }

  static async open<T>(
    name: string,
    url: string,
    shown: string,
    options: JobQueueOptions,
    log: Logger,
  ): Promise<SqliteJobQueue<T>> {
    const db = await openSqlite(url, options, false);
    try {
      await db.execScript(
        `${SCHEMA}; PRAGMA synchronous = ${options.durability === 'normal' ? 'NORMAL' : 'FULL'};`,
      );
      await addMissingColumns(db);
    } catch (err) {
      await db.close();
      throw err;
    }
    return new SqliteJobQueue<T>(name, shown, db, options, log);
  }

  protected async enqueue(job: PreparedAdd): Promise<Added> {
    const { id, text, attempts, priority, delay, key, backoff: own, timeout, requestId, trace } = job;
    const now = Date.now();
    const timeoutMs = timeout ?? null;
    const request = requestId ?? null;
    const context = trace === undefined ? null : JSON.stringify(Object.fromEntries(trace));
    const runAt = now + delay;
    const backoff = own === undefined ? null : JSON.stringify(own);
    const db = this.#db;
    let added: Added;
    if (key === undefined) {
      await this.#write(
        (q) => q.exec`
          INSERT INTO weir_jobs (id, queue, state, data, priority, run_at, max_attempts, backoff, timeout_ms,
                                 created_at, request_id, trace_context)
          VALUES (${id}, ${this.name}, 'waiting', ${text}, ${priority}, ${runAt}, ${attempts}, ${backoff}, ${timeoutMs},
                  ${now}, ${request}, ${context})`,
      );
      added = { id, duplicate: false };
    } else {
      added = await db.transaction(async (tx) => {
        await tx.exec`
          UPDATE weir_jobs SET idempotency_key = NULL
          WHERE queue = ${this.name} AND idempotency_key = ${key} AND idempotency_until <= ${now}`;
        const existing = await tx.maybeOne<{ id: string }>`
          SELECT id FROM weir_jobs WHERE queue = ${this.name} AND idempotency_key = ${key}`;
        if (existing !== undefined) return { id: existing.id, duplicate: true };
        await tx.exec`
          INSERT INTO weir_jobs (id, queue, state, data, priority, run_at, max_attempts, backoff, timeout_ms,
                                 created_at, request_id, trace_context, idempotency_key, idempotency_until)
          VALUES (${id}, ${this.name}, 'waiting', ${text}, ${priority}, ${runAt}, ${attempts}, ${backoff}, ${timeoutMs},
                  ${now}, ${request}, ${context}, ${key}, ${now + this.idempotencyWindow})`;
        return { id, duplicate: false };
      });
    }
    for (const wake of this.#wakers) wake();
    return added;
  }

  /**
   * Group commit: the writes made in one turn of the event loop (adds, job outcomes) share one
   * transaction, so one fsync, instead of one each. Each still resolves only once it is committed. If the
   * shared transaction fails, each write is retried on its own, so one bad write fails only itself.
   */
  #write<R>(op: (q: Queryable) => Promise<R>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#pending.push({ op, resolve: resolve as (v: unknown) => void, reject });
      if (this.#pending.length === 1) setImmediate(() => void this.#flush());
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 1) {
      const [only] = batch as [(typeof batch)[number]];
      only.op(this.#db).then(only.resolve, only.reject);
      return;
    }
    let results: unknown[];
    try {
      results = await this.#db.transaction(async (tx) => {
        const out: unknown[] = [];
        for (const write of batch) out.push(await write.op(tx));
        return out;
      });
    } catch {
      for (const write of batch) write.op(this.#db).then(write.resolve, write.reject);
      return;
    }
    for (const [i, write] of batch.entries()) write.resolve(results[i]);
  }

  protected source(): Source {
    return {
      take: (max, signal) => this.#take(max, signal),
      // The runner renews only deliveries this source took, so each is one of ours.
      extend: (deliveries) => this.#extend(deliveries as readonly Leased[]),
      extendEveryMs: Math.max(Math.floor(this.visibility / 3), 10),
    };
  }

  async #take(max: number, signal: AbortSignal): Promise<Delivery[]> {
    for (;;) {
      if (signal.aborted) throw reasonOf(signal);
      const now = Date.now();
      if (now - this.#lastPurge > PURGE_EVERY_MS) {
        this.#lastPurge = now;
        await this.#db.exec`
          DELETE FROM weir_jobs
          WHERE queue = ${this.name} AND state = 'completed' AND finished_at < ${now - this.#keepCompleted}`;
      }
      // An idle poll is one read through the claim indexes: no write lock taken, no token made, so idle
      // consumers (one per worker process) cost next to nothing and do not queue behind writers.
      if (!(await this.#due(now))) {
        await this.#idle(signal);
        continue;
      }
      const token = randomUUID();
      const rows = await this.#db.query<Row>`
        UPDATE weir_jobs
        SET state = 'active', attempts = attempts + 1, lease_until = ${now + this.visibility}, lease_token = ${token}
        WHERE seq IN (
          SELECT seq FROM (
            SELECT seq FROM weir_jobs
            WHERE queue = ${this.name} AND state IN ('waiting', 'failed') AND run_at <= ${now}
            ORDER BY priority DESC, run_at, seq
            LIMIT ${max})
          UNION ALL
          SELECT seq FROM (
            SELECT seq FROM weir_jobs
            WHERE queue = ${this.name} AND state = 'active' AND lease_until <= ${now}
            LIMIT ${max})
          LIMIT ${max})
        RETURNING *`;
      if (rows.length > 0) {
        rows.sort((a, b) => b.priority - a.priority || a.run_at - b.run_at || a.seq - b.seq);
        return rows.map((row) => this.#delivery(row, token));
      }
      await this.#idle(signal);
    }
  }

  /** Whether a job is ready to run or a lease has lapsed, at `now`. */
  async #due(now: number): Promise<boolean> {
    const found = await this.#db.maybeOne<{ due: number }>`
      SELECT 1 AS due WHERE EXISTS (
        SELECT 1 FROM weir_jobs
        WHERE queue = ${this.name} AND state IN ('waiting', 'failed') AND run_at <= ${now})
      OR EXISTS (
        SELECT 1 FROM weir_jobs
        WHERE queue = ${this.name} AND state = 'active' AND lease_until <= ${now})`;
    return found !== undefined;
  }

  /** Waits for a local add(), the poll interval, or the signal, whichever comes first. */
  #idle(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wakers.delete(done);
        detach();
        resolve();
      };
      const timer = setTimeout(done, this.#pollInterval);
      this.#wakers.add(done);
      const detach = abortHook(signal, done);
    });
  }

  #delivery(row: Row, token: string): Leased {
    const id = row.id;
    const delivery: Leased = {
      token,
      job: {
        id,
        queue: row.queue,
        data: JSON.parse(row.data),
        attempt: row.attempts,
        maxAttempts: row.max_attempts,
        createdAt: new Date(row.created_at),
        requestId: row.request_id ?? undefined,
      },
      backoff: row.backoff === null ? this.backoff : (JSON.parse(row.backoff) as Backoff),
      timeoutMs: storedTimeout(row.timeout_ms, this.jobTimeout),
      trace: () => jsonTraceGetter(row.trace_context),
      complete: async (result) => {
        const text = resultText(result);
        const at = Date.now();
        await this.#write(
          (q) => q.exec`
            UPDATE weir_jobs
            SET state = 'completed', result = ${text}, finished_at = ${at}, lease_token = NULL, lease_until = NULL
            WHERE id = ${id} AND lease_token = ${token}`,
        );
      },
      retry: async (error, delayMs) => {
        const runAt = Date.now() + delayMs;
        await this.#write(
          (q) => q.exec`
            UPDATE weir_jobs
            SET state = 'failed', run_at = ${runAt}, last_error = ${error}, lease_token = NULL, lease_until = NULL
            WHERE id = ${id} AND lease_token = ${token}`,
        );
      },
      bury: async (error) => {
        const at = Date.now();
        await this.#write(
          (q) => q.exec`
            UPDATE weir_jobs
            SET state = 'dead', finished_at = ${at}, last_error = ${error}, lease_token = NULL, lease_until = NULL
            WHERE id = ${id} AND lease_token = ${token}`,
        );
      },
      release: async () => {
        await this.#write(
          (q) => q.exec`
            UPDATE weir_jobs
            SET state = 'waiting', attempts = attempts - 1, lease_token = NULL, lease_until = NULL
            WHERE id = ${id} AND lease_token = ${token}`,
        );
        for (const wake of this.#wakers) wake();
      },
    };
    return delivery;
  }

  /**
   * Renews the leases of `deliveries`, each only while it is still the holder's: a job whose attempt
   * was recorded (or that another worker claimed since) keeps what it has.
   */
  async #extend(deliveries: readonly Leased[]): Promise<void> {
    const until = Date.now() + this.visibility;
    const ids = JSON.stringify(deliveries.map((d) => d.job.id));
    const tokens = JSON.stringify([...new Set(deliveries.map((d) => d.token))]);
    await this.#db.exec`
      UPDATE weir_jobs SET lease_until = ${until}
      WHERE state = 'active' AND id IN (SELECT value FROM json_each(${ids}))
        AND lease_token IN (SELECT value FROM json_each(${tokens}))`;
  }

  async get(id: string): Promise<JobInfo<T> | undefined> {
    this.checkOpen();
    const row = await this.#db
      .maybeOne<Row>`SELECT * FROM weir_jobs WHERE id = ${String(id)} AND queue = ${this.name}`;
    return row === undefined ? undefined : info<T>(row);
  }

  async counts(): Promise<JobCounts> {
    this.checkOpen();
    const counts: JobCounts = { waiting: 0, active: 0, failed: 0, completed: 0, dead: 0 };
    const rows = await this.#db.query<{ state: JobState; n: number }>`
      SELECT state, count(*) AS n FROM weir_jobs WHERE queue = ${this.name} GROUP BY state`;
    for (const { state, n } of rows) counts[state] = n;
    return counts;
  }

  async dead(options: DeadListOptions = {}): Promise<JobInfo<T>[]> {
    const limit = this.deadLimit(options);
    const rows = await this.#db.query<Row>`
      SELECT * FROM weir_jobs WHERE queue = ${this.name} AND state = 'dead' ORDER BY finished_at, seq LIMIT ${limit}`;
    return rows.map((row) => info<T>(row));
  }

  async retryDead(id?: string): Promise<number> {
    this.checkOpen();
    const now = Date.now();
    const { rowCount } =
      id === undefined
        ? await this.#db.exec`
            UPDATE weir_jobs SET state = 'waiting', attempts = 0, run_at = ${now}, finished_at = NULL
            WHERE queue = ${this.name} AND state = 'dead'`
        : await this.#db.exec`
            UPDATE weir_jobs SET state = 'waiting', attempts = 0, run_at = ${now}, finished_at = NULL
            WHERE queue = ${this.name} AND state = 'dead' AND id = ${id}`;
    for (const wake of this.#wakers) wake();
    return rowCount;
  }

  protected async closeBackend(): Promise<void> {
    // Writes waiting for their group commit go first.
    while (this.#pending.length > 0) await new Promise((resolve) => setImmediate(resolve));
    await this.#db.close();
  }
}
