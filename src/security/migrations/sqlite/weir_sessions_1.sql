-- The session store's table (weir/security). The file name starts with weir_ so that it cannot collide
-- with an application's own migrations, which weir_migrations records beside it.
CREATE TABLE weir_sessions (
  key TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX weir_sessions_expires_at ON weir_sessions (expires_at);
