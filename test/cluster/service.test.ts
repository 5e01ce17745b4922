import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Sqlite from 'better-sqlite3';
import { freePort, get } from '../helpers/cluster.ts';
import { spawnNode } from '../helpers/process.ts';
import { parsePrometheus, sample } from '../helpers/prometheus.ts';

// The long load runs in CI (CI=true) or when asked for; the default run keeps it short.
const long = process.env.CI === 'true' || process.env.CI === '1' || process.env.WEIR_LONG_TESTS === '1';
const LOAD_SECONDS = long ? 30 : 5;

describe('npm start with WEB_CONCURRENCY=2 on SQLite (database and job queue shared by both workers)', () => {
  const buildDir = mkdtempSync(join(tmpdir(), 'weir-build-'));
  const dataDir = mkdtempSync(join(tmpdir(), 'weir-cluster-'));
  after(() => {
    rmSync(buildDir, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });
  const START = fileURLToPath(new URL('../../scripts/start.mjs', import.meta.url));

  it(`runs the migrations once, answers /updates?queries=20 at 64 connections for ${LOAD_SECONDS} s with only 200s, runs jobs, and drains running jobs on SIGTERM`, {
    timeout: (LOAD_SECONDS + 120) * 1000,
  }, async () => {
    const port = await freePort();
    const metricsPort = await freePort();
    const database = join(dataDir, 'weir.db');
    const service = spawnNode([START], {
      WEB_CONCURRENCY: '2',
      PORT: String(port),
      WEIR_BUILD_DIR: buildDir,
      METRICS_PORT: String(metricsPort),
      DATABASE_URL: `sqlite:${database}`,
      QUEUE_URL: `sqlite:${join(dataDir, 'queue.db')}`,
    });
    try {
      const [line] = await service.waitFor(/weir: serving .*/);
      assert.match(
        line!,
        /with 2 workers \(primary pid \d+\): database sqlite:\S+weir\.db, cache memory: \(one per worker, not shared\), queue sqlite:\S+queue\.db, sessions sqlite:\S+weir\.db, rateLimits memory: \(one per worker, not shared\)$/,
      );
      // Both workers migrated at once: each file is recorded once and the seed is there once.
      const db = new Sqlite(database, { readonly: true });
      try {
        const names = db.prepare('SELECT name FROM weir_migrations ORDER BY name').pluck().all();
        assert.deepEqual(names, [
          '001_schema.sql',
          '002_welcome_emails.sql',
          '003_job_status.sql',
          '004_service_secrets.sql',
          '005_current_seed_hashes.sql',
          'weir_sessions_1.sql', // the session store's table, from the migration weir ships, applied at start
        ]);
        assert.equal(db.prepare('SELECT count(*) FROM world').pluck().get(), 10_000);
      } finally {
        db.close();
      }
      assert.doesNotMatch(service.output(), /restarting it/);

      // 64 keep-alive connections, each one request after another, for LOAD_SECONDS (bounded in count too).
      const agent = new Agent({ keepAlive: true, maxSockets: 64 });
      const until = Date.now() + LOAD_SECONDS * 1000;
      const statuses = new Map<string, number>();
      let total = 0;
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (Date.now() < until && total < 1_000_000) {
            total++;
            const res = await get(port, '/updates?queries=20', agent);
            const key = 'error' in res ? res.error : String(res.status);
            statuses.set(key, (statuses.get(key) ?? 0) + 1);
          }
        }),
      );
      agent.destroy();
      assert.ok(total > 64, `only ${total} requests`);
      assert.deepEqual([...statuses], [['200', total]]);
      // The primary serves the workers' metrics, summed: every request counted once, whichever worker took it.
      const scraped = parsePrometheus(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
      assert.equal(sample(scraped, 'weir_http_requests_total', { route: '/updates', status: '200' }), total);
      const own = await get(port, '/metrics');
      assert.ok('status' in own && own.status === 404, 'no worker answers for the whole service');

      // Jobs enqueued through either worker run on one of them, once.
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ to: `user${i}@example.com`, workMs: 0 }),
        });
        assert.equal(res.status, 202);
        ids.push(((await res.json()) as { id: string }).id);
      }
      const deadline = Date.now() + 30_000;
      for (const id of ids) {
        for (;;) {
          const res = await get(port, `/jobs/${id}`);
          assert.ok('body' in res && res.status === 200, JSON.stringify(res));
          if ((JSON.parse(res.body) as { state: string }).state === 'completed') break;
          assert.ok(Date.now() < deadline, `job ${id} did not complete: ${res.body}`);
          await sleep(50);
        }
      }
      // Jobs running when SIGTERM comes finish before the workers exit.
      const slow: string[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ to: `slow${i}@example.com`, workMs: 1500 }),
        });
        slow.push(((await res.json()) as { id: string }).id);
      }
      for (const id of slow) {
        for (;;) {
          const res = await get(port, `/jobs/${id}`);
          if ('body' in res && (JSON.parse(res.body) as { state: string }).state === 'running') break;
          assert.ok(Date.now() < deadline + 10_000, `job ${id} did not start`);
          await sleep(20);
        }
      }
      service.child.kill('SIGTERM');
      assert.equal(await service.exited(), 0);
      const after = new Sqlite(database, { readonly: true });
      try {
        const states = slow.map((id) =>
          after.prepare('SELECT state FROM job_status WHERE id = ?').pluck().get(id),
        );
        assert.deepEqual(states, ['completed', 'completed', 'completed', 'completed']);
      } finally {
        after.close();
      }
    } finally {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
    }
  });
});
