/**
 * The service's own record of its jobs, the `job_status` table: written on enqueue and by the worker, so
 * that GET /jobs/:id answers on every queue backend (a broker forgets a job once it is acknowledged).
 *
 * A row moves queued → running → completed, or running → failed (waiting for its retry) → running …
 * → dead (its last attempt failed). Every write is idempotent under redelivery (at-least-once: a job
 * may be delivered again, or twice at once after a lease ran out):
 * - `completed` is final: no later write changes it (a second run of a completed job sends nothing new);
 * - a write from an attempt older than the row's is ignored, so a stale run cannot undo a newer one;
 * - a dead job runs again only when it is re-queued (`retryDead()` restarts at attempt 1), which the
 *   start of its run records.
 * `attempts` is the queue's own count (`job.attempt`), so a delivery that does not count (a job given
 * back at shutdown) does not count here either. `last_error` holds a generic message for the client,
 * never an error's text or stack: those go to the log.
 *
 * One outcome no run records: a job whose worker died during its last attempt is dead-lettered by the
 * queue when it comes back, without running again, so its row stays `running` (attempts = maxAttempts).
 */
import type { Database } from 'weir/db';

/** Where a job is, as the service reports it. */
export type JobStatusState =
  /** Stored in the queue, not started yet. */
  | 'queued'
  /** A worker runs it. */
  | 'running'
  /** Its handler succeeded; `result` holds what it returned. */
  | 'completed'
  /** An attempt failed; it runs again after its backoff. */
  | 'failed'
  /** Its last attempt failed; it stays in the queue's dead letters until re-queued. */
  | 'dead';

/** What GET /jobs/:id answers. */
export interface JobStatus {
  id: string;
  state: JobStatusState;
  /** Runs so far, the current one included while `running`. */
  attempts: number;
  maxAttempts: number;
  createdAt: string;
  updatedAt: string;
  /** When it ended (`completed`, `dead`), else `null`. */
  finishedAt: string | null;
  lastError: string | null;
  result: unknown;
}

/** The run of a job, as the worker sees it. */
export interface JobRun {
  readonly id: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly createdAt: Date;
}

interface Row {
  id: string;
  state: JobStatusState;
  attempts: number;
  max_attempts: number;
  last_error: string | null;
  result: string | null;
  created_at: string | Date;
  updated_at: string | Date;
}

/** SQLite answers timestamps as the ISO text it stored, PostgreSQL as `Date`s. */
const iso = (value: string | Date): string => new Date(value).toISOString();

/** The `job_status` table of the service's database (migration 003). */
export class JobStatusTable {
  readonly #db: Database;
  readonly #now: () => Date;

  constructor(db: Database, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#now = now;
  }

  /**
   * Records a job about to be added to the queue. A row already there (a retry of a request with an
   * idempotency key names the same job) is left as it is.
   */
  async queued(id: string, maxAttempts: number): Promise<void> {
    const now = this.#now();
    await this.#db.exec`
      INSERT INTO job_status (id, state, attempts, max_attempts, created_at, updated_at)
      VALUES (${id}, 'queued', 0, ${maxAttempts}, ${now}, ${now})
      ON CONFLICT (id) DO NOTHING`;
  }

  /**
   * Removes the row of a job the queue refused, unless a worker has already written it (a publish
   * that failed unconfirmed may still have been stored, and run): the client was told it failed, and no
   * phantom `queued` row is left behind.
   */
  async forget(id: string): Promise<void> {
    await this.#db.exec`DELETE FROM job_status WHERE id = ${id} AND state = 'queued'`;
  }

  /** A run starts. Creates the row of a job added without one (by another producer). */
  async running(run: JobRun): Promise<void> {
    const now = this.#now();
    await this.#db.exec`
      INSERT INTO job_status (id, state, attempts, max_attempts, created_at, updated_at)
      VALUES (${run.id}, 'running', ${run.attempt}, ${run.maxAttempts}, ${run.createdAt}, ${now})
      ON CONFLICT (id) DO UPDATE SET
        state = 'running', attempts = excluded.attempts, max_attempts = excluded.max_attempts,
        updated_at = excluded.updated_at
      WHERE job_status.state <> 'completed'
        AND (job_status.attempts <= excluded.attempts OR job_status.state = 'dead')`;
  }

  /** A run succeeded with `result`. */
  async completed(run: JobRun, result: unknown): Promise<void> {
    await this.#db.exec`
      UPDATE job_status SET
        state = 'completed', result = ${JSON.stringify(result ?? null)}, updated_at = ${this.#now()},
        attempts = CASE WHEN attempts > ${run.attempt} THEN attempts ELSE ${run.attempt} END
      WHERE id = ${run.id} AND state <> 'completed'`;
  }

  /** A run failed: the job is `dead` after its last attempt, else `failed` until its retry. */
  async failed(run: JobRun, message: string): Promise<void> {
    const state: JobStatusState = run.attempt >= run.maxAttempts ? 'dead' : 'failed';
    await this.#db.exec`
      UPDATE job_status SET
        state = ${state}, attempts = ${run.attempt}, last_error = ${message}, updated_at = ${this.#now()}
      WHERE id = ${run.id} AND state <> 'completed' AND attempts <= ${run.attempt}`;
  }

  /** A run was stopped by a shutdown and the job given back to the queue, its attempt not counted. */
  async givenBack(run: JobRun): Promise<void> {
    await this.#db.exec`
      UPDATE job_status SET state = 'queued', updated_at = ${this.#now()}
      WHERE id = ${run.id} AND state = 'running' AND attempts = ${run.attempt}`;
  }

  /** The job's status, or `undefined` when there is no such job. */
  async get(id: string, signal?: AbortSignal): Promise<JobStatus | undefined> {
    const row = await this.#db.with({ signal }).maybeOne<Row>`
      SELECT id, state, attempts, max_attempts, last_error, result, created_at, updated_at
      FROM job_status WHERE id = ${id}`;
    if (row === undefined) return undefined;
    const ended = row.state === 'completed' || row.state === 'dead';
    return {
      id: row.id,
      state: row.state,
      attempts: row.attempts,
      maxAttempts: row.max_attempts,
      createdAt: iso(row.created_at),
      updatedAt: iso(row.updated_at),
      finishedAt: ended ? iso(row.updated_at) : null,
      lastError: row.last_error,
      result: row.result === null ? null : JSON.parse(row.result),
    };
  }

  /** Deletes the rows of jobs that ended (completed or dead) before `before`; resolves with how many. */
  async purge(before: Date): Promise<number> {
    const { rowCount } = await this.#db.exec`
      DELETE FROM job_status WHERE state IN ('completed', 'dead') AND updated_at < ${before}`;
    return rowCount;
  }
}
