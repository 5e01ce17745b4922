-- What the welcome-email worker "sends": one row per job, kept once however often the job is delivered.
CREATE TABLE welcome_emails (
  job_id TEXT PRIMARY KEY,
  recipient TEXT NOT NULL,
  sent_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
