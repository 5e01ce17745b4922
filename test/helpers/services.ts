/**
 * Probes for the services integration tests need. A missing service skips its tests with a message
 * naming it, unless WEIR_REQUIRE_SERVICES=1 (as in CI), which turns the skip into a failure.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The server the PostgreSQL tests use; each run creates its own database there and drops it after. */
export const POSTGRES_ADMIN_URL =
  process.env.WEIR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const required = process.env.WEIR_REQUIRE_SERVICES === '1';

/**
 * `false` when the service answers; otherwise the reason to skip (and a line on stderr), or a thrown
 * error when services are required.
 */
export async function skipUnless(service: string, probe: () => Promise<unknown>): Promise<string | false> {
  try {
    await probe();
    return false;
  } catch (err) {
    const reason = `${service} is not reachable (${(err as Error).message}); start it to run these tests`;
    if (required) throw new Error(`WEIR_REQUIRE_SERVICES=1 but ${reason}`);
    process.stderr.write(`skipping: ${reason}\n`);
    return reason;
  }
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Skip reason for PostgreSQL tests, or false. */
export function postgresSkip(): Promise<string | false> {
  return skipUnless(`PostgreSQL at ${POSTGRES_ADMIN_URL}`, () => withAdmin((c) => c.query('SELECT 1')));
}

/** A new, empty database on the test server; `drop()` removes it (closing any connection left). */
export async function freshPostgresDatabase(
  label: string,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `weir_test_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
  await withAdmin((c) => c.query(`CREATE DATABASE ${name}`));
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}
