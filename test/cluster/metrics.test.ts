import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startPrimary } from 'weir/cluster';
import { freePort, get } from '../helpers/cluster.ts';
import { spawnTs, type TsProcess } from '../helpers/process.ts';
import { parsePrometheus, sample } from '../helpers/prometheus.ts';

const fixture = new URL('../fixtures/cluster-metrics.ts', import.meta.url);
const root = fileURLToPath(new URL('../../', import.meta.url));
const requests = { method: 'GET', route: '/', status: '200' };
/** A primary in this process running the fixture's workers. */
const inProcess = {
  workers: 2,
  exec: fileURLToPath(fixture),
  args: [],
  execArgv: ['--conditions=weir-source', '--import', 'tsx'],
  signals: false,
  exitProcess: false,
};

/** Starts the fixture's primary and 2 workers; resolves once every worker listens. */
async function start(
  env: Record<string, string> = {},
): Promise<{ primary: TsProcess; port: number; url: string }> {
  const port = await freePort();
  const primary = spawnTs(fixture, { PORT: String(port), ...env });
  const [, url] = await primary.waitFor(/^metricsUrl (\S+)$/m);
  return { primary, port, url: url! };
}

/** Ends the primary if a test left it running (its workers exit when their channel to it closes). */
function cleanup(primary: TsProcess): void {
  if (primary.child.exitCode === null) primary.child.kill('SIGKILL');
}

async function scrape(url: string): Promise<{ status: number; type: string; body: string; ms: number }> {
  const started = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  const body = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    body,
    ms: performance.now() - started,
  };
}

/** GETs `/` on a new connection each time (so round-robin spreads them); counts the answers by pid. */
async function hit(port: number, n: number, tally = new Map<string, number>()): Promise<Map<string, number>> {
  for (let i = 0; i < n; i++) {
    const res = await get(port, '/');
    assert.ok('body' in res && res.status === 200, JSON.stringify(res));
    tally.set(res.body, (tally.get(res.body) ?? 0) + 1);
  }
  return tally;
}

describe('startPrimary({ metrics })', () => {
  it("sums the workers' request counts on the primary's /metrics, and weir's and prom-client's messages leave each other alone", async () => {
    const { primary, port, url } = await start();
    try {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      assert.match(primary.output(), new RegExp(`weir: metrics of every worker, summed, on ${url}\\n`));
      const N = 40;
      const tally = await hit(port, N);
      assert.equal(tally.size, 2, 'both workers answered');
      for (const [pid, count] of tally) assert.ok(count >= 1, `worker ${pid} handled ${count}`);

      const res = await scrape(url);
      assert.equal(res.status, 200, res.body);
      assert.match(res.type, /^text\/plain; version=0\.0\.4/);
      const families = parsePrometheus(res.body);
      assert.equal(sample(families, 'weir_http_requests_total', requests), N);
      const count = /^weir_http_request_duration_seconds_count\{[^}]*route="\/"[^}]*\} (\d+)$/m.exec(
        res.body,
      );
      assert.equal(Number(count?.[1]), N, 'the duration histogram is summed too');
      // prom-client's own process metrics come through with their own aggregators.
      assert.ok(families.has('process_cpu_user_seconds_total'));

      // Scraping asks the workers, but neither stops nor restarts them.
      for (let i = 0; i < 3; i++) assert.equal((await scrape(url)).status, 200);
      const after = await hit(port, 10);
      assert.deepEqual(new Set(after.keys()), new Set(tally.keys()));
      assert.equal(
        sample(parsePrometheus((await scrape(url)).body), 'weir_http_requests_total', requests),
        N + 10,
      );
      const other = await fetch(new URL('/other', url), { signal: AbortSignal.timeout(5000) });
      assert.equal(other.status, 404);
      await other.text();

      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited(), 0);
      assert.match(primary.output(), /SIGTERM: draining 2 workers[\s\S]*every worker stopped/);
      assert.doesNotMatch(primary.output(), /restarting it|did not answer/);
    } finally {
      cleanup(primary);
    }
  });

  it('keeps answering, without waiting, while a killed worker is restarted, then sums the new one', async () => {
    const { primary, port, url } = await start({ METRICS_TIMEOUT_MS: '3000' });
    try {
      const counts = await hit(port, 20);
      const first = new Set(counts.keys());
      const exit = await get(port, '/exit');
      assert.ok('body' in exit, JSON.stringify(exit));
      const killed = exit.body.replace('bye ', '');
      // Scrape through the exit, the restart and the new worker's start: every answer comes at once.
      const seen: { status: number; ms: number }[] = [];
      let fresh: string | undefined;
      for (let i = 0; i < 200 && fresh === undefined; i++) {
        const res = await scrape(url);
        seen.push({ status: res.status, ms: res.ms });
        const answer = await get(port, '/');
        if (!('body' in answer)) continue;
        counts.set(answer.body, (counts.get(answer.body) ?? 0) + 1);
        if (!first.has(answer.body)) fresh = answer.body;
        else await sleep(25);
      }
      assert.ok(fresh !== undefined, `no new worker: ${primary.output()}`);
      assert.match(
        primary.output(),
        new RegExp(`\\(pid ${killed}\\) exited with code 7 after [\\d.]+ s; restarting it`),
      );
      for (const s of seen) assert.equal(s.status, 200, JSON.stringify(seen));
      assert.ok(Math.max(...seen.map((s) => s.ms)) < 2000, JSON.stringify(seen));

      // The exited worker's counts left with it; the survivor's and the new one's are summed.
      await hit(port, 20, counts);
      const res = await scrape(url);
      assert.equal(res.status, 200, res.body);
      const expected = [...counts].filter(([pid]) => pid !== killed).reduce((sum, [, n]) => sum + n, 0);
      assert.equal(sample(parsePrometheus(res.body), 'weir_http_requests_total', requests), expected);
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited(), 0);
    } finally {
      cleanup(primary);
    }
  });

  it('leaves out, at once, a worker that exits while it is asked', async () => {
    const { primary, port, url } = await start({ METRICS_TIMEOUT_MS: '3000', EXIT_WHEN_ASKED_IN_SLOT: '2' });
    try {
      const counts = await hit(port, 20);
      const res = await scrape(url);
      assert.equal(res.status, 200, res.body);
      assert.ok(res.ms < 2000, `${res.ms} ms`);
      const [, exited] = await primary.waitFor(/worker 2 \(pid (\d+)\) exited with code 9/);
      assert.ok(counts.has(exited!) && counts.size === 2, JSON.stringify([...counts]));
      const survivor = [...counts].find(([pid]) => pid !== exited)!;
      assert.equal(sample(parsePrometheus(res.body), 'weir_http_requests_total', requests), survivor[1]);
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited(), 0);
    } finally {
      cleanup(primary);
    }
  });

  it('answers 503 naming a worker that does not answer within timeoutMs, to every scrape waiting', async () => {
    const { primary, url } = await start({ METRICS_TIMEOUT_MS: '400', NO_METRICS_IN_SLOT: '2' });
    try {
      const started = performance.now();
      const answers = await Promise.all(Array.from({ length: 5 }, () => scrape(url)));
      const elapsed = performance.now() - started;
      for (const res of answers) {
        assert.equal(res.status, 503);
        assert.match(res.type, /^text\/plain/);
        assert.match(res.body, /^worker 2 \(pid \d+\) did not answer within 400 ms\n$/);
      }
      assert.ok(elapsed >= 390 && elapsed < 2000, `${elapsed} ms`);
      assert.equal((await scrape(url)).status, 503, 'the next scrape asks again');
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited(), 0);
    } finally {
      cleanup(primary);
    }
  });

  it('refuses a bad port or timeout at once, before forking', () => {
    const base = { workers: 1, signals: false, exitProcess: false, log: () => {} };
    for (const metrics of [
      { port: 70_000 },
      { port: 1.5 },
      { port: 0, timeoutMs: 0 },
      { port: 0, host: '' },
    ]) {
      assert.throws(() => startPrimary({ ...base, metrics }), { code: 'WEIR_ERR_INVALID_OPTION' });
    }
  });

  it('fails the start with one line, forking no worker, when the metrics port is taken', async () => {
    const taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address() as { port: number };
    const lines: string[] = [];
    try {
      const primary = startPrimary({
        ...inProcess,
        metrics: { port },
        log: (line) => lines.push(line),
      });
      assert.equal(await primary.exited, 1);
      assert.deepEqual(primary.pids(), []);
      assert.equal(primary.metricsUrl, undefined);
      assert.equal(lines.length, 1, lines.join('\n'));
      assert.match(
        lines[0]!,
        new RegExp(`^weir: cannot start: Cannot serve metrics on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`),
      );
    } finally {
      taken.close();
    }
  });

  it('exposes the bound URL on the handle and closes the port when the primary stops', async () => {
    const lines: string[] = [];
    const primary = startPrimary({
      ...inProcess,
      env: { PORT: String(await freePort()) },
      metrics: { port: 0 },
      log: (line) => lines.push(line),
    });
    try {
      for (let i = 0; i < 600 && !lines.some((l) => l.startsWith('weir: serving ')); i++) await sleep(50);
      const url = primary.metricsUrl;
      assert.ok(url !== undefined, lines.join('\n'));
      assert.ok(lines.includes(`weir: metrics of every worker, summed, on ${url}`), lines.join('\n'));
      assert.equal((await scrape(url)).status, 200);
    } finally {
      assert.equal(await primary.stop(), 0);
    }
    // A new connection (fetch would reuse the one the primary closed).
    assert.deepEqual(await get(Number(new URL(primary.metricsUrl!).port), '/metrics'), {
      error: 'ECONNREFUSED',
    });
  });

  it('loads prom-client only in a primary given the option, or in metrics()', () => {
    const script = `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(process.cwd() + '/').cache).some((k) => k.includes('/prom-client/'));
      await import('weir/cluster');
      const cluster = loaded();
      const { metrics } = await import('weir/observability');
      const observability = loaded();
      const { App } = await import('weir');
      metrics(new App({ logger: false }), { processMetrics: false });
      process.stdout.write(JSON.stringify([cluster, observability, loaded()]));`;
    const run = spawnSync(
      process.execPath,
      ['--conditions=weir-source', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: root, encoding: 'utf8' },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), [false, false, true]);
  });
});
