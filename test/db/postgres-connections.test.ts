/**
 * PostgreSQL connections when something goes wrong underneath: a connection cut while it runs a query,
 * idle connections terminated by the server, a cancel request that never finishes, a ROLLBACK on a
 * connection that is gone. The faults are real: backends terminated on the real server, sockets reset
 * or stalled by a TCP proxy in front of it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Database, openDatabase } from 'weir/db';
import { freshPostgresDatabase, postgresSkip } from '../helpers/services.ts';
import { capturingLogger } from './log-capture.ts';
import { startProxy } from './tcp-proxy.ts';

const skip = await postgresSkip();

/** A throwaway self-signed certificate for the proxy's TLS, or the reason there is none. */
function selfSigned(): { key: string; cert: string } | string {
  const dir = mkdtempSync(join(tmpdir(), 'weir-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return {
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
    };
  } catch (err) {
    return `openssl could not make a test certificate (${(err as Error).message})`;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// A fault left unhandled shows up as a hang (a connection never handed back, close() waiting for it): the
// bound turns it into a failure.
describe('PostgreSQL connections under faults', { skip, timeout: 30_000 }, () => {
  let scratch: { url: string; drop: () => Promise<void> };
  let target: { host: string; port: number };
  before(async () => {
    scratch = await freshPostgresDatabase('faults');
    const url = new URL(scratch.url);
    target = { host: url.hostname, port: Number(url.port || 5432) };
  });
  after(async () => {
    await scratch?.drop();
  });

  test('a connection reset while its query runs rejects that query with 503; the process lives on and the pool recovers', async () => {
    const proxy = await startProxy(target);
    const name = uniqueName('reset');
    const db = await openDatabase(named(proxy.url(scratch.url), name), { max: 2, logger: false });
    try {
      const running = db.query`SELECT pg_sleep(${5})`.then(
        () => assert.fail('expected the query to fail'),
        (e: { code?: string; status?: number }) => e,
      );
      await waitFor(async () => (await activeSleeps(db, name)) === 1);
      proxy.cut();
      const err = await running;
      assert.equal(err.code, 'WEIR_ERR_DB_UNAVAILABLE');
      assert.equal(err.status, 503);
      assert.deepEqual(await db.one`SELECT 1 AS n`, { n: 1 });
    } finally {
      await db.close();
      await proxy.close();
    }
  });

  test('idle connections the server terminates are logged once each, at warn, with host:port and no password, and replaced', async () => {
    const log = capturingLogger();
    const name = uniqueName('idle');
    const url = new URL(scratch.url);
    url.password = 'sekret-pw';
    url.searchParams.set('application_name', name);
    const db = await openDatabase(url.toString(), { max: 3, logger: log });
    const admin = await openDatabase(scratch.url, { logger: false });
    try {
      // Three connections at once, then all idle.
      await Promise.all([1, 2, 3].map(() => db.query`SELECT pg_sleep(${0.05})`));
      const terminated = await admin.query<{ pid: number }>`
        SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = ${name}`;
      assert.equal(terminated.length, 3);
      const warned = (e: { level: string; line: string }) => e.level === 'warn' && /failed/.test(e.line);
      await log.waitFor(() => log.entries.filter(warned).length === 3);
      for (const entry of log.entries.filter(warned)) {
        assert.match(entry.line, new RegExp(`${url.hostname.replaceAll('.', '\\.')}:${url.port}`));
        assert.match(entry.line, /terminating connection due to administrator command/);
      }
      assert.doesNotMatch(log.text(), /sekret/);
      // The pool serves again, on new connections.
      const pids = await Promise.all(
        [1, 2, 3].map(
          async () => (await db.one<{ pid: number }>`SELECT pg_backend_pid() AS pid, pg_sleep(${0.05})`).pid,
        ),
      );
      for (const pid of pids)
        assert.ok(!terminated.some((t) => t.pid === pid), 'a terminated connection was reused');
      assert.equal(log.entries.filter(warned).length, 3, 'one line per connection');
    } finally {
      await db.close();
      await admin.close();
    }
  });

  /** A database behind a proxy whose second connection (the cancel request's) is accepted and stalls. */
  async function stalledCancelTarget(tls: { key: string; cert: string } | undefined) {
    const proxy = await startProxy(target, { stall: (n) => n === 2, tls });
    const name = uniqueName('cancel');
    const url = new URL(named(proxy.url(scratch.url), name));
    if (tls !== undefined) url.searchParams.set('sslmode', 'no-verify');
    const log = capturingLogger();
    const db = await openDatabase(url.toString(), {
      max: 1,
      cancelTimeoutMs: 200,
      acquireTimeoutMs: 5000,
      logger: log,
    });
    return { proxy, db, log, name };
  }

  async function cancelStalls(tls: { key: string; cert: string } | undefined): Promise<void> {
    const { proxy, db, log, name } = await stalledCancelTarget(tls);
    const admin = await openDatabase(scratch.url, { logger: false });
    try {
      const { pid: first } = await db.one<{ pid: number }>`SELECT pg_backend_pid() AS pid`;
      const controller = new AbortController();
      const slow = db.with(controller).query`SELECT pg_sleep(${2})`;
      await waitFor(async () => (await activeSleeps(admin, name)) === 1);
      controller.abort(new Error('deadline'));
      await assert.rejects(slow, /deadline/);
      // The cancel request went to the stalled connection; past cancelTimeoutMs the pooled connection is
      // closed, and the next query runs on a new one instead of waiting on the cancel for ever.
      const { pid: next } = await db.one<{ pid: number }>`SELECT pg_backend_pid() AS pid`;
      assert.equal(proxy.stalled, 1, 'the cancel request reached the stalled target');
      assert.notEqual(next, first, 'the connection whose cancel timed out was closed, not reused');
      await log.waitFor((e) => e.level === 'warn' && /cancelTimeoutMs/.test(e.line));
    } finally {
      await db.close();
      await admin.close();
      await proxy.close();
    }
  }

  test('a cancel request that never finishes is given up after cancelTimeoutMs, and its connection closed', () =>
    cancelStalls(undefined));

  const cert = selfSigned();
  test(
    'over TLS too (where the cancel is pg_cancel_backend on a new connection)',
    { skip: typeof cert === 'string' ? cert : false },
    () => cancelStalls(cert as { key: string; cert: string }),
  );

  test("a ROLLBACK that fails on a connection the server killed leaves the caller with the function's error", async () => {
    const log = capturingLogger();
    const db = await openDatabase(scratch.url, { max: 2, logger: log });
    try {
      await db.execScript('CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY)');
      const original = new Error('the function failed');
      const err = await db
        .transaction(async (tx) => {
          await tx.exec`INSERT INTO note (id) VALUES (${1})`;
          const { pid } = await tx.one<{ pid: number }>`SELECT pg_backend_pid() AS pid`;
          await db.query`SELECT pg_terminate_backend(${pid})`;
          throw original;
        })
        .then(
          () => assert.fail("expected the function's error"),
          (e: unknown) => e as Error & { rollbackError?: { code?: string } },
        );
      assert.equal(err, original);
      assert.equal(err.rollbackError?.code, 'WEIR_ERR_DB_UNAVAILABLE');
      await log.waitFor((e) => e.level === 'error' && /ROLLBACK failed/.test(e.line));
      // Nothing of the transaction was kept, and the pool serves on.
      assert.deepEqual(await db.query`SELECT * FROM note`, []);
    } finally {
      await db.close();
    }
  });
});

/** Queries running `pg_sleep` on the server for connections named `name`, seen from `admin`. */
async function activeSleeps(admin: Database, name: string): Promise<number> {
  const rows = await admin.query`
    SELECT pid FROM pg_stat_activity
    WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active' AND application_name = ${name}`;
  return rows.length;
}

/** `url` naming its connections `name` on the server (a test finds its own backends by it). */
function named(url: string, name: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('application_name', name);
  return parsed.toString();
}

const uniqueName = (label: string): string => `weir_${label}_${randomBytes(4).toString('hex')}`;

/** Polls `condition` every 20 ms, at most 250 times. */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail('the condition never held');
}
