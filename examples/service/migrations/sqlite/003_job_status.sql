-- The service's own record of its jobs (examples/service/job-status.ts): written on enqueue and by the
-- worker, so that GET /jobs/:id answers on every queue backend. Timestamps are ISO-8601 text (UTC).
CREATE TABLE job_status (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'completed', 'failed', 'dead')),
  attempts INTEGER NOT NULL CHECK (attempts >= 0),
  max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
  last_error TEXT,
  result TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

-- The retention sweep deletes ended jobs by age.
CREATE INDEX job_status_ended ON job_status (updated_at) WHERE state IN ('completed', 'dead');
