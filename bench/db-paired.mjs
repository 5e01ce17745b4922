#!/usr/bin/env node
// The framework's cost on the TechEmpower database tests, measured in pairs: two servers that make the same
// driver calls run at once, both pinned to core 0, each driven by its own wrk on core 1, so that whatever
// this machine does to one (a slower moment, another process, PostgreSQL's own work) it does to the other.
// Each pair gives one ratio of requests a second, weir's ÷ the peer's; the report gives their median with a
// bootstrap interval. bench/db.mjs runs the servers one after the other, minutes apart, where this VM moves a
// server's req/s by ±25 %: its intervals are too wide to show a cost of 5 %.
//
//   node bench/db-paired.mjs        (about 12 minutes; writes bench/RESULTS-db-paired.md)
//   node bench/db-paired.mjs --pairs 4 --duration 3 --routes db --compare weir-start:node --out /tmp/p.md
//
// Servers are bench/db.mjs's (db/servers.mjs); the weir one is the reference service as `npm start` runs
// it. PostgreSQL is not pinned (it shares both cores, as in bench/db.mjs). Traffic goes to 127.0.0.1 only.
// See bench/README.md.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathOfRoute } from './db/report.mjs';
import { PATHS, SERVERS } from './db/servers.mjs';
import {
  BENCH_DIR,
  bootstrapMedian,
  cleanupOnExit,
  commandLine,
  fmtInt,
  get,
  int,
  list,
  loadAverage,
  machineFacts,
  medianOf,
  option,
  outOption,
  pairRun,
  pgQuery,
  pinning,
  prepareNpmStart,
  prepareServiceDatabase,
  startTfbServer,
  stopServer,
  string,
  url,
} from './lib.mjs';

const ROUTES = ['db', 'queries', 'fortunes', 'updates'];
const COMPARISONS = [
  'weir-start:node',
  'weir-start:fastify',
  'weir-app:node',
  'weir-start:weir-app',
  'weir-app-nolimit:weir-app',
  'weir-cancel:weir-app',
];

const runner = commandLine({
  name: 'bench:db-paired',
  usage: 'Usage: node bench/db-paired.mjs [options]\n',
  columns: [22, 47],
  options: {
    pairs: option('<n>', 'measured pairs per comparison and route', '10', int(3, 100)),
    duration: option('<s>', 'seconds of each pair', '4', int(1, 120)),
    warmup: option('<s>', 'discarded pair first (0 = none)', '4', int(0, 120)),
    connections: option('<n>', 'wrk connections (-c), per server', '64', int(1, 10_000)),
    routes: option('<list>', `comma list of ${ROUTES.join(',')}`, 'db,queries', list(ROUTES)),
    queries: option('<n>', 'N of /queries and /updates', '20', int(2, 500)),
    compare: option(
      '<list>',
      'comma list of weir:peer pairs of bench/db.mjs servers',
      COMPARISONS.join(','),
      (value, flag, { fail }) =>
        value.split(',').map((pair) => {
          const [a, b] = pair.split(':');
          if (
            !SERVERS[a] ||
            !SERVERS[b] ||
            SERVERS[a].engine !== 'postgres' ||
            SERVERS[b].engine !== 'postgres'
          )
            fail(`--${flag}: "${pair}" is not two PostgreSQL servers of bench/db.mjs joined by ":"`);
          return [a, b];
        }),
    ),
    pg: option('<url>', 'PostgreSQL server, without a database', 'postgres://postgres@127.0.0.1:5432', url),
    database: option('<name>', 'database, dropped and recreated', 'weir_bench_tfb', string),
    port: option('<n>', 'the first of the two ports (127.0.0.1)', '3110', int(1024, 65534)),
    out: outOption('the report', 'db-paired'),
  },
});
const { opts, fail } = runner;
const pathOf = (route) => pathOfRoute(route, opts.queries);

/** Starts `server` of db/servers.mjs on `port`, pinned as the pair's servers are. */
function start(server, port, pin) {
  const { label, argv, env, cwd } = SERVERS[server];
  return startTfbServer({
    label,
    argv,
    pin,
    port,
    env: { DATABASE_URL: `${opts.pg}/${opts.database}`, DB_POOL: '16', ...env },
    cwd,
  });
}

/** One run of both wrk at once (lib/pairs.mjs); `first` is spawned first. */
const runPair = (pin, ports, route, seconds, first) =>
  pairRun({
    pin,
    ports,
    connections: opts.connections,
    seconds,
    path: pathOf(route),
    first,
    name: runner.name,
  });

/** The answer of `route` must be 200 with JSON or HTML a TechEmpower test expects. */
async function check(label, port, route) {
  const res = await get(port, pathOf(route), 10_000);
  const ok =
    res.status === 200 &&
    (route === 'fortunes' ? res.body.includes('<td>11</td>') : /"randomNumber"/.test(res.body));
  if (!ok) fail(`${label} ${pathOf(route)}: ${res.status} ${res.body.slice(0, 200)}`);
}

async function main() {
  cleanupOnExit();
  const pin = pinning();
  if (!pin.pinned) fail('two cores are needed: both servers on one, both load generators on the other');
  // weir as `npm start` runs it (dist/ and the service bundled with it, once); the other weir servers
  // import the same dist/.
  await prepareNpmStart(runner);
  const postgres = await prepareServiceDatabase(runner, () => start('weir-start', opts.port, pin));
  const ports = [opts.port, opts.port + 1];
  const facts = { ...machineFacts(), postgres, load: loadAverage(), date: new Date().toISOString() };
  const results = [];
  const began = Date.now();
  for (const [a, b] of opts.compare) {
    for (const route of opts.routes) {
      await pgQuery(`${opts.pg}/${opts.database}`, 'VACUUM ANALYZE world');
      const servers = [await start(a, opts.port, pin), await start(b, opts.port + 1, pin)];
      try {
        await check(SERVERS[a].label ?? a, opts.port, route);
        await check(SERVERS[b].label ?? b, opts.port + 1, route);
        const warm = opts.warmup > 0 ? await runPair(pin, ports, route, opts.warmup, 0) : undefined;
        const pairs = [];
        let lost = 0;
        for (let i = 0; i < opts.pairs; i++) {
          const run = await runPair(pin, ports, route, opts.duration, i % 2);
          if (run === undefined) {
            lost++;
            continue;
          }
          const [ra, rb] = run;
          pairs.push({ a: ra.rps, b: rb.rps, ratio: ra.rps / rb.rps, badA: ra.bad, badB: rb.bad });
          console.log(
            `${runner.name}: ${a} ÷ ${b} ${pathOf(route)} pair ${i + 1}: ${fmtInt(ra.rps)} ÷ ${fmtInt(rb.rps)} = ${(ra.rps / rb.rps).toFixed(3)}${ra.bad || rb.bad ? `  (errors and non-2xx: ${ra.bad} / ${rb.bad})` : ''}`,
          );
        }
        results.push({ a, b, route, pairs, lost, warmBad: warm ? [warm[0].bad, warm[1].bad] : [0, 0] });
        writeRaw(facts, results);
      } finally {
        for (const s of servers) await stopServer(s);
      }
    }
  }
  facts.seconds = Math.round((Date.now() - began) / 1000);
  const raw = writeRaw(facts, results);
  writeFileSync(opts.out, report(facts, results));
  console.log(
    `${runner.name}: wrote ${relative(process.cwd(), opts.out)} (raw: ${relative(process.cwd(), raw)})`,
  );
}

/** Writes the results so far (after each comparison and route: a run cut short keeps what it measured). */
function writeRaw(facts, results) {
  mkdirSync(join(BENCH_DIR, 'results', 'raw'), { recursive: true });
  const raw = join(BENCH_DIR, 'results', 'raw', `db-paired-${facts.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(raw, `${JSON.stringify({ opts, facts, results }, null, 2)}\n`);
  return raw;
}

const fmt = (x) => x.toFixed(3);
const labelOf = (s) => SERVERS[s].label ?? s;
const TARGET = 0.95;

function report(facts, results) {
  const rows = results.map(({ a, b, route, pairs, lost, warmBad }) => {
    const ratios = pairs.map((p) => p.ratio);
    const { median, low, high } = bootstrapMedian(ratios, { seed: `${a}:${b}:${route}` });
    const med = (key) => fmtInt(medianOf(pairs.map((p) => p[key])));
    const bad = (key) => pairs.reduce((sum, p) => sum + p[key], 0);
    return {
      a,
      b,
      route,
      pairs,
      ratios,
      median,
      low,
      high,
      medA: med('a'),
      medB: med('b'),
      bad: [bad('badA'), bad('badB')],
      warmBad,
      lost,
    };
  });
  const table = rows.map(
    (r) =>
      `| ${labelOf(r.a)} ÷ ${labelOf(r.b)} | \`${pathOf(r.route)}\` | ${PATHS[SERVERS[r.a].path].label} / ${PATHS[SERVERS[r.b].path].label} | ${r.medA} / ${r.medB} | **${fmt(r.median)}×** [${fmt(r.low)}–${fmt(r.high)}] | ${r.low >= TARGET ? 'met' : r.high < TARGET ? '**not met**' : '**not shown**'} | ${r.bad[0]} / ${r.bad[1]} |`,
  );
  const every = rows.map(
    (r) =>
      `| ${labelOf(r.a)} ÷ ${labelOf(r.b)} | \`${pathOf(r.route)}\` | ${r.ratios.map(fmt).join(', ')}${r.lost ? ` (${r.lost} left out: no wrk result)` : ''} | ${r.warmBad[0]} / ${r.warmBad[1]} |`,
  );
  const servers = [...new Set(results.flatMap((r) => [r.a, r.b]))];
  return `# weir database benchmark, paired (TechEmpower database tests)

Generated by \`bench/db-paired.mjs\`; do not edit by hand, re-run it. See \`bench/README.md\`.

## Summary

Each row: ${opts.pairs} pairs of ${opts.duration} s. In a pair both servers run at once, pinned to core 0, each
under its own wrk (-c${opts.connections}, one thread) on core 1; PostgreSQL serves both. Ratio: weir's requests a
second (2xx answers only) ÷ the peer's in the same ${opts.duration} s; the median over the pairs, and in brackets its 95 % bootstrap
interval (the pairs resampled 2,000 times, seeded). Each server has about half a core, so req/s are about half
of a solo run's (bench/RESULTS-db.md); the ratio is what counts.

**Target: the framework's cost ≤ 5 % on the same query path**: the ratio ≥ ${TARGET}× at the interval's lower end
(met), its upper end below ${TARGET}× (not met), or the interval across ${TARGET}× (not shown).

| weir ÷ peer | route | query paths | median req/s (weir / peer) | ratio [95 % interval] | target | errors and non-2xx (weir / peer) |
| --- | --- | --- | ---: | ---: | --- | ---: |
${table.join('\n')}

## Every pair

| weir ÷ peer | route | ratios, pair by pair | errors and non-2xx in the warm-up (weir / peer) |
| --- | --- | --- | ---: |
${every.join('\n')}

## Servers

${servers.map((s) => `- **${labelOf(s)}** (\`${s}\`): ${SERVERS[s].what} Query path: ${PATHS[SERVERS[s].path].calls}.`).join('\n')}

## Machine

| fact | value |
| --- | --- |
| date | ${facts.date} (took ${facts.seconds} s) |
| nproc | ${facts.nproc} |
| CPU | ${facts.cpuModel} |
| kernel | ${facts.kernel} |
| Node | ${facts.node} |
| wrk | ${facts.wrk} |
| PostgreSQL | ${facts.postgres} |
| weir | commit ${facts.commit} |
| load average before the run | ${facts.load} |

## Command

\`\`\`sh
node bench/db-paired.mjs ${process.argv.slice(2).join(' ')}
\`\`\`

Per comparison and route: \`VACUUM ANALYZE world\`, both servers started (\`taskset -c 0\`, ports ${opts.port} and
${opts.port + 1}), each route's answer checked, ${opts.warmup > 0 ? `one discarded pair of ${opts.warmup} s, ` : ''}then the
pairs: \`taskset -c 1 wrk -t1 -c${opts.connections} -d${opts.duration}s --latency http://127.0.0.1:<port><route>\` twice at
once, the one started first alternating; then both stopped (SIGTERM by PID). Requests a second are wrk's, less its
non-2xx answers (a 503 of weir's overload limiter is not a served request); socket errors and non-2xx
answers are listed beside the ratios, the warm-up's too. A pair whose wrk output has no result is left out
and counted.
`;
}

await main();
