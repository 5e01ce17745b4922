/**
 * The embedded job queue's table: its columns, indexes, the columns added since its first release (added
 * on open to a file that predates them), and a row as `get()` shows it.
 */
import type { Database } from '../db/database.ts';
import type { JobInfo, JobState } from './types.ts';

export interface Row {
  seq: number;
  id: string;
  queue: string;
  state: JobState;
  data: string;
  priority: number;
  run_at: number;
  attempts: number;
  max_attempts: number;
  backoff: string | null;
  timeout_ms: number | null;
  lease_token: string | null;
  last_error: string | null;
  result: string | null;
  created_at: number;
  finished_at: number | null;
  request_id: string | null;
  /** The trace context the job carries: a JSON object of propagator fields (`traceparent` …). */
  trace_context: string | null;
}

export const SCHEMA = `
  CREATE TABLE IF NOT EXISTS weir_jobs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    queue TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    run_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    backoff TEXT,
    timeout_ms INTEGER,
    lease_until INTEGER,
    lease_token TEXT,
    idempotency_key TEXT,
    idempotency_until INTEGER,
    last_error TEXT,
    result TEXT,
    created_at INTEGER NOT NULL,
    finished_at INTEGER,
    request_id TEXT,
    trace_context TEXT
  );
  CREATE INDEX IF NOT EXISTS weir_jobs_ready ON weir_jobs (queue, state, run_at);
  -- The claim walks these in order and stops at its LIMIT: completed and dead rows are not in them,
  -- so a claim costs the same with a million finished jobs kept as with none.
  CREATE INDEX IF NOT EXISTS weir_jobs_claim ON weir_jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('waiting', 'failed');
  CREATE INDEX IF NOT EXISTS weir_jobs_leases ON weir_jobs (queue, lease_until) WHERE state = 'active';
  CREATE UNIQUE INDEX IF NOT EXISTS weir_jobs_idempotency
    ON weir_jobs (queue, idempotency_key) WHERE idempotency_key IS NOT NULL;
`;

/**
 * Columns later than the first release of the table, in the order they came, added to a file that
 * predates them. Each is nullable: the rows already there read as having none.
 */
const ADDED_COLUMNS = { timeout_ms: 'INTEGER', request_id: 'TEXT', trace_context: 'TEXT' } as const;

export async function addMissingColumns(db: Database): Promise<void> {
  const have = new Set(
    (await db.query<{ name: string }>`SELECT name FROM pragma_table_info('weir_jobs')`).map((c) => c.name),
  );
  for (const [name, type] of Object.entries(ADDED_COLUMNS)) {
    if (have.has(name)) continue;
    try {
      await db.execScript(`ALTER TABLE weir_jobs ADD COLUMN ${name} ${type}`);
    } catch (err) {
      // Another process sharing the file added it first.
      if (!/duplicate column/i.test((err as Error).message)) throw err;
    }
  }
}

export function resultText(value: unknown): string | null {
  try {
    return JSON.stringify(value) ?? null;
  } catch {
    return null;
  }
}

export function info<T>(row: Row): JobInfo<T> {
  return {
    id: row.id,
    queue: row.queue,
    state: row.state,
    data: JSON.parse(row.data) as T,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    priority: row.priority,
    createdAt: new Date(row.created_at),
    runAt: new Date(row.run_at),
    finishedAt: row.finished_at === null ? undefined : new Date(row.finished_at),
    lastError: row.last_error ?? undefined,
    result: row.result === null ? undefined : JSON.parse(row.result),
    requestId: row.request_id ?? undefined,
  };
}
