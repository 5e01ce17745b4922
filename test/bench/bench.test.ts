import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { App, type ServerHandle, sleep } from 'weir';
import { benchCommand } from '../../src/bench/command.ts';
import { findOnPath } from '../../src/bench/pick-engine.ts';
import type { BenchReport } from '../../src/bench/report.ts';
import { serve } from '../helpers/http.ts';

const SECRET = 'Bearer s3cret-token';
const BODY = 'caf\u00e9 "quoted" \\ back\nslash ]] -- [[ \u0000 end \u2603';
const HEADER = 'a"b\\c]]\t--';

/** What the server saw: responses sent per status, Authorization values, bodies, route switches. */
const seen = { ok: 0, busy: 0, auth: new Set<string>(), good: 0, bad: 0, switches: [] as string[] };

function app(): App {
  const a = new App();
  let n = 0;
  a.get('/mixed', async (ctx) => {
    seen.auth.add(ctx.headers.authorization ?? '');
    // Every third request is shed at once; the others take at least 15 ms.
    n++;
    if (n % 3 === 0) {
      seen.busy++;
      ctx.status(503);
      return 'busy';
    }
    await sleep(15);
    seen.ok++;
    return 'ok';
  });
  a.post('/echo', async (ctx) => {
    const body = await ctx.text();
    if (body === BODY && ctx.headers['x-odd'] === HEADER) seen.good++;
    else seen.bad++;
    return 'ok';
  });
  for (const route of ['a', 'b'] as const) {
    a.get(`/${route}`, () => {
      if (seen.switches.at(-1) !== route) seen.switches.push(route);
      return route;
    });
  }
  return a;
}

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

let server: ServerHandle;
let base: string;
const dirs: string[] = [];
const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-test-'));
  dirs.push(dir);
  return dir;
};
const readReport = (dir: string) => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as BenchReport;
const short = ['--duration', '1', '--warmup', '0', '--rounds', '1', '--connections', '4'];

before(async () => {
  server = await serve(app());
  base = `http://127.0.0.1:${server.port}`;
});
after(async () => {
  await server.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const engines = (['wrk', 'autocannon'] as const).filter(
  (e) => e !== 'wrk' || findOnPath('wrk', process.env.PATH),
);

for (const engine of engines) {
  describe(`weir bench with ${engine}`, () => {
    it('records 503s apart from 200s: counts match what the server sent, and the 503s are faster', async () => {
      Object.assign(seen, { ok: 0, busy: 0, auth: new Set() });
      const dir = tmp();
      const c = capture();
      const argv = [`${base}/mixed`, ...short, '--engine', engine, '--header', `Authorization: ${SECRET}`];
      assert.equal(await benchCommand([...argv, '--out', dir], c.io), 0, c.err.join('\n'));
      const report = readReport(dir);
      assert.equal(report.engine.name, engine);
      const [target] = report.targets;
      assert.ok(target);
      assert.equal(target.rounds.length, 1);
      assert.deepEqual(Object.keys(target.statuses), ['200', '503']);
      const ok = target.classes['2xx'];
      const busy = target.classes['5xx'];
      assert.ok(ok && busy);
      assert.equal(ok.count, target.statuses['200']);
      assert.equal(busy.count, target.statuses['503']);
      // The client saw at most what the server sent, and missed at most one response per connection.
      assert.ok(busy.count <= seen.busy && seen.busy <= busy.count + 4, `${busy.count} vs ${seen.busy}`);
      assert.ok(ok.count <= seen.ok && seen.ok <= ok.count + 4, `${ok.count} vs ${seen.ok}`);
      assert.ok(ok.p50 >= 10, `the 200s sleep 15 ms, p50 ${ok.p50}`);
      assert.ok(busy.p50 < ok.p50, `503 p50 ${busy.p50} < 200 p50 ${ok.p50}`);
      const round = target.rounds[0];
      assert.ok(round && round.rps > 0);
      assert.equal(round.requests, ok.count + busy.count);
      assert.deepEqual(round.errors, { socket: 0, timeouts: 0 });
      assert.equal(
        busy.histogram.buckets.reduce((sum, [, , n]) => sum + n, 0),
        busy.count,
        'the histogram holds every 503',
      );
      assert.ok(
        round.timeline.some((s) => (s.classes['2xx']?.count ?? 0) > 0 && (s.classes['5xx']?.count ?? 0) > 0),
      );
      // The header was sent; no report shows its value.
      assert.deepEqual([...seen.auth], [SECRET]);
      assert.deepEqual(report.options.headers, ['Authorization']);
      const md = readFileSync(join(dir, 'report.md'), 'utf8');
      const html = readFileSync(join(dir, 'report.html'), 'utf8');
      for (const text of [md, html, readFileSync(join(dir, 'report.json'), 'utf8')]) {
        assert.doesNotMatch(text, /s3cret/);
      }
      assert.match(md, /^\| 2xx \| [\d,]+ \| [\d.]+ % \|/m);
      assert.match(md, /^\| 5xx \| [\d,]+ \| [\d.]+ % \|/m);
      // One self-contained page: inline SVG plots, nothing fetched, no script.
      assert.equal((html.match(/<svg /g) ?? []).length, 3);
      assert.doesNotMatch(html, /<script|\ssrc=|\shref=|url\(|@import/i);
    });

    it('sends the method, an awkward body and header byte for byte', async () => {
      Object.assign(seen, { good: 0, bad: 0 });
      const c = capture();
      const argv = [`${base}/echo`, ...short, '--engine', engine, '--method', 'POST', '--body', BODY];
      assert.equal(await benchCommand([...argv, '--header', `X-Odd: ${HEADER}`], c.io), 0, c.err.join('\n'));
      assert.ok(seen.good > 0);
      assert.equal(seen.bad, 0);
      assert.match(c.out.join('\n'), /^# weir bench/, 'without --out, the Markdown goes to stdout');
    });

    it('exits 1 naming the URL when nothing answers, within its duration', async () => {
      const closed = await serve(new App());
      const url = `http://127.0.0.1:${closed.port}/`;
      await closed.close();
      const dir = tmp();
      const c = capture();
      assert.equal(await benchCommand([url, ...short, '--engine', engine, '--out', dir], c.io), 1);
      const line = c.err.at(-1) ?? '';
      if (engine === 'wrk') {
        // wrk tries a connection before it starts and gives up at once.
        assert.equal(
          line,
          `weir bench: wrk exited with 1 on ${url}: unable to connect to 127.0.0.1:${closed.port} Connection refused (WEIR_ERR_BENCH_ENGINE)`,
        );
      } else {
        assert.equal(line, `weir bench: no response from ${url}`);
        const [target] = readReport(dir).targets;
        assert.equal(target?.rounds[0]?.requests, 0);
        assert.ok((target?.errors.socket ?? 0) > 0);
      }
    });
  });
}

describe('weir bench --compare', () => {
  it('runs the two targets alternately, flipping the order every round', async () => {
    seen.switches = [];
    const dir = tmp();
    const c = capture();
    const argv = [`${base}/a`, '--compare', `${base}/b`, '--duration', '1', '--warmup', '0', '--rounds', '3'];
    assert.equal(
      await benchCommand([...argv, '--connections', '2', '--out', dir], c.io),
      0,
      c.err.join('\n'),
    );
    const report = readReport(dir);
    assert.deepEqual(
      report.order.map((o) => `${o.target}${o.round}`),
      ['A1', 'B1', 'B2', 'A2', 'A3', 'B3'],
    );
    // What the server saw: a, then b (rounds 1 and 2 back to back), a (2 and 3), b.
    assert.deepEqual(seen.switches, ['a', 'b', 'a', 'b']);
    assert.deepEqual(
      report.targets.map((t) => [t.label, t.rounds.map((r) => r.round)]),
      [
        ['A', [1, 2, 3]],
        ['B', [1, 2, 3]],
      ],
    );
    assert.equal(typeof report.comparison?.rps, 'number');
    assert.match(
      readFileSync(join(dir, 'report.md'), 'utf8'),
      /B against A: [\d.]+× the requests per second/,
    );
  });
});

describe('weir bench engine choice', () => {
  const noWrk = () => tmp(); // an empty folder: a PATH on which there is no wrk

  it('falls back to autocannon when wrk is not on PATH', async () => {
    const dir = tmp();
    const script = new URL('../../scripts/weir.mjs', import.meta.url).pathname;
    const args = ['--conditions=weir-source', '--import', 'tsx', script, 'bench', `${base}/mixed`, ...short];
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        [...args, '--out', dir],
        { env: { ...process.env, PATH: noWrk() }, timeout: 60_000 },
        (err, _out, stderr) =>
          resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? null), stderr }),
      );
    });
    assert.equal(code, 0, stderr);
    assert.match(stderr, /^weir bench: autocannon \d/m);
    assert.equal(readReport(dir).engine.name, 'autocannon');
    assert.ok(existsSync(join(dir, 'report.html')));
  });

  it('--engine wrk without wrk on PATH fails in one line with WEIR_ERR_BENCH_ENGINE', async () => {
    const c = capture();
    const code = await benchCommand([`${base}/mixed`, ...short, '--engine', 'wrk'], c.io, {
      env: { PATH: noWrk() },
    });
    assert.equal(code, 1);
    assert.deepEqual(c.err, [
      'weir bench: --engine wrk: wrk is not on PATH (apt-get install wrk) (WEIR_ERR_BENCH_ENGINE)',
    ]);
  });

  it('a bad option exits 2 with the message and the usage', async () => {
    const c = capture();
    assert.equal(await benchCommand([`${base}/mixed`, '--duration', 'forever'], c.io), 2);
    assert.match(c.err[0] ?? '', /^weir bench: --duration must be whole seconds/);
    assert.match(c.err[0] ?? '', /Usage: weir bench URL/);
  });
});
