/**
 * Probes for the services integration tests need. A missing service skips its tests with a message
 * naming it, unless WEIR_REQUIRE_SERVICES=1 (as in CI), which turns the skip into a failure.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import pg from 'pg';

/** The server the PostgreSQL tests use; each run creates its own database there and drops it after. */
export const POSTGRES_ADMIN_URL =
  process.env.WEIR_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const required = process.env.WEIR_REQUIRE_SERVICES === '1';

/**
 * `false` when the service answers; otherwise the reason to skip (and a line on stderr), or a thrown
 * error when services are required. `wording` fits the reason to what is missing, such as a program.
 */
export async function skipUnless(
  service: string,
  probe: () => Promise<unknown>,
  wording: { missing: string; remedy: string } = {
    missing: 'is not reachable',
    remedy: 'start it to run these tests',
  },
): Promise<string | false> {
  try {
    await probe();
    return false;
  } catch (err) {
    const reason = `${service} ${wording.missing} (${(err as Error).message}); ${wording.remedy}`;
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

/** The Redis server the cache tests use; each run works under a key prefix of its own and removes it. */
export const REDIS_URL = process.env.WEIR_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Sends PING to a Redis server and waits for PONG, over a plain socket (no client library needed). */
export function pingRedis(url: string = REDIS_URL, timeoutMs = 2000): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port || 6379) });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer from ${url} in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => {
      clearTimeout(timer);
      socket.destroy();
      if (data.toString().startsWith('+PONG')) resolve();
      else reject(new Error(`unexpected answer from ${url}: ${data.toString().trim()}`));
    });
  });
}

/** Skip reason for Redis tests, or false. */
export function redisSkip(): Promise<string | false> {
  return skipUnless(`Redis at ${REDIS_URL}`, () => pingRedis());
}

/** A key namespace no other run uses. */
export function uniqueNamespace(label: string): string {
  return `weir-test-${label}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The NATS server (with JetStream) the queue tests use; each run uses streams of its own and deletes them. */
export const NATS_URL = process.env.WEIR_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

/** Skip reason for NATS tests, or false: the server must greet with INFO and have JetStream on. */
export function natsSkip(): Promise<string | false> {
  return skipUnless(`NATS (with JetStream) at ${NATS_URL}`, () => {
    const { hostname, port } = new URL(NATS_URL);
    return new Promise<void>((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port || 4222) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('no INFO within 2000 ms'));
      }, 2000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('data', (data) => {
        clearTimeout(timer);
        socket.destroy();
        const text = data.toString();
        if (!text.startsWith('INFO ')) reject(new Error(`unexpected greeting: ${text.slice(0, 40)}`));
        else if (!/"jetstream":\s*true/.test(text))
          reject(new Error('JetStream is not enabled (start nats-server with -js)'));
        else resolve();
      });
    });
  });
}

/** The RabbitMQ server the queue tests use; each run declares queues of its own and deletes them. */
export const AMQP_URL = process.env.WEIR_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** Skip reason for RabbitMQ tests, or false: the server must answer the AMQP 0-9-1 protocol header. */
export function amqpSkip(): Promise<string | false> {
  return skipUnless(`RabbitMQ at ${AMQP_URL.replace(/:[^:@/]*@/, ':***@')}`, () => {
    const { hostname, port } = new URL(AMQP_URL);
    return new Promise<void>((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port || 5672) });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('no answer within 2000 ms'));
      }, 2000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => socket.write(Buffer.from('AMQP\x00\x00\x09\x01', 'latin1')));
      socket.once('data', (data) => {
        clearTimeout(timer);
        socket.destroy();
        // connection.start: a method frame (type 1) on channel 0.
        if (data[0] === 1) resolve();
        else reject(new Error(`unexpected answer: ${data.subarray(0, 8).toString('hex')}`));
      });
    });
  });
}
