-- Secrets the service generates for itself when the environment gives none (the JWT signing key): kept
-- here, every process of the service and every restart use the same one.
CREATE TABLE service_secrets (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
