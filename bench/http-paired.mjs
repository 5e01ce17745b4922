#!/usr/bin/env node
// The framework's cost on small HTTP answers, measured in pairs: two servers run at once, both pinned to
// core 0, each driven by its own wrk on core 1, so that whatever this VM does to one (a slower moment, a
// flip between its two speeds) it does to the other. Each pair gives one ratio of requests a second; the
// report gives their median with a bootstrap interval. bench/run.mjs runs servers one after another, where
// this VM moves a server's req/s by ±20 % between rounds: a cost of 5 % does not show there.
//
//   node bench/http-paired.mjs         (about 10 minutes; writes bench/RESULTS-http-paired.md)
//   node bench/http-paired.mjs --pairs 4 --compare weir:fastify --routes json --out /tmp/p.md
//
// Servers are bench/servers/*.mjs, weir's from the compiled build (dist/, built first). Traffic goes to
// 127.0.0.1 only. See bench/README.md.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  BENCH_DIR,
  bootstrapMedian,
  cleanupOnExit,
  commandLine,
  fmtInt,
  get,
  HOST,
  int,
  list,
  loadAverage,
  machineFacts,
  medianOf,
  option,
  outOption,
  pairRun,
  pinning,
  post,
  ROOT,
  runStep,
  startServer,
  stopServer,
} from './lib.mjs';
import { createdUser, NEW_USER, userOf } from './schemas/data.mjs';

/** Routes: the path wrk drives, its Lua script if any, and the answer every server must give first. */
const ROUTES = {
  plaintext: { path: '/plaintext', check: (res) => res.body === 'Hello, World!' },
  json: { path: '/json', check: (res) => res.body === '{"message":"Hello, World!"}' },
  'post-users': {
    path: '/users',
    script: join(BENCH_DIR, 'schemas', 'post-users.lua'),
    check: async (_res, port) => {
      const res = await post(port, '/users', JSON.stringify(NEW_USER));
      const body = JSON.parse(res.body);
      const expected = createdUser(body.id, NEW_USER);
      return res.status === 201 && JSON.stringify(body) === JSON.stringify(expected);
    },
    probe: '/users/7',
  },
  'get-user': { path: '/users/7', check: (res) => res.body === JSON.stringify(userOf(7)) },
};

const TFB = ['plaintext', 'json'];
const SCHEMA = ['post-users', 'get-user'];
/** Servers: bench/servers/<file>, its environment, the routes it has, and what it is. */
const SERVERS = {
  weir: { file: 'weir.mjs', routes: TFB, what: '`new App()` as it comes, bench/servers/weir.mjs.' },
  'weir-noid': {
    file: 'weir.mjs',
    env: { REQUEST_ID: 'off' },
    routes: TFB,
    what: 'the same with `requestId: { header: false }`: no `X-Request-Id` made and sent back.',
  },
  fastify: { file: 'fastify.mjs', routes: TFB, what: 'fastify 5, logger off, bench/servers/fastify.mjs.' },
  node: { file: 'node.mjs', routes: TFB, what: 'a bare `node:http` listener, bench/servers/node.mjs.' },
  'weir-typebox': {
    file: 'weir-schemas.mjs',
    env: { VALIDATOR: 'typebox', RESPONSE_SCHEMAS: 'off' },
    routes: SCHEMA,
    what: "TypeBox schemas through `weir/schema/typebox` (ajv's compiled code), answers written by the compiled serialiser and not checked, as fastify does (bench/RESULTS-schemas.md's weir-unchecked, with TypeBox).",
  },
  'fastify-schemas': {
    file: 'fastify-schemas.mjs',
    routes: SCHEMA,
    what: 'fastify 5 with the same rules as JSON Schemas (ajv, fast-json-stringify).',
  },
};
const COMPARISONS = ['weir:fastify', 'weir:node', 'weir-noid:fastify', 'weir-typebox:fastify-schemas'];

const runner = commandLine({
  name: 'bench:http-paired',
  usage: 'Usage: node bench/http-paired.mjs [options]\n',
  columns: [22, 47],
  options: {
    pairs: option('<n>', 'measured pairs per comparison and route', '8', int(3, 100)),
    duration: option('<s>', 'seconds of each pair', '4', int(1, 120)),
    warmup: option('<s>', 'discarded pair first (0 = none)', '4', int(0, 120)),
    connections: option('<n>', 'wrk connections (-c), per server', '32', int(1, 10_000)),
    routes: option(
      '<list>',
      `comma list of ${Object.keys(ROUTES).join(',')}`,
      Object.keys(ROUTES).join(','),
      list(Object.keys(ROUTES)),
    ),
    compare: option(
      '<list>',
      `comma list of a:b pairs of ${Object.keys(SERVERS).join(', ')}`,
      COMPARISONS.join(','),
      (value, flag, { fail }) =>
        value.split(',').map((pair) => {
          const [a, b] = pair.split(':');
          if (!SERVERS[a] || !SERVERS[b]) fail(`--${flag}: "${pair}" is not two servers joined by ":"`);
          return [a, b];
        }),
    ),
    port: option('<n>', 'the first of the two ports (127.0.0.1)', '3120', int(1024, 65534)),
    'no-build': option('', 'skip `npm run build` (dist/ must be current)', undefined, (v) => !v, {
      key: 'build',
    }),
    out: outOption('the report', 'http-paired'),
  },
});
const { opts, fail } = runner;

function start(server, port, pin) {
  const { file, env } = SERVERS[server];
  const probePath = ROUTES[SERVERS[server].routes[0]].probe ?? ROUTES[SERVERS[server].routes[0]].path;
  return startServer({
    name: server,
    argv: [...pin.server, process.execPath, join('servers', file)],
    env: { PORT: String(port), HOST, NODE_ENV: 'production', ...env },
    port,
    probe: async () => {
      const res = await get(port, probePath, 5000);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    },
  });
}

async function check(server, port, route) {
  const { path, probe, check: ok } = ROUTES[route];
  const res = await get(port, probe ?? path, 10_000);
  if (!(await ok(res, port))) fail(`${server} ${path}: ${res.status} ${res.body.slice(0, 200)}`);
}

/** One run of both wrk at once (lib/pairs.mjs); `first` is spawned first. */
function runPair(pin, ports, route, seconds, first) {
  const { path, script } = ROUTES[route];
  return pairRun({
    pin,
    ports,
    connections: opts.connections,
    seconds,
    path,
    script,
    first,
    name: runner.name,
  });
}

async function main() {
  cleanupOnExit();
  const pin = pinning();
  if (!pin.pinned) fail('two cores are needed: both servers on one, both load generators on the other');
  if (opts.build !== false) runStep(runner.name, 'npm', ['run', 'build', '--silent'], ROOT);
  const ports = [opts.port, opts.port + 1];
  const facts = { ...machineFacts(), load: loadAverage(), date: new Date().toISOString() };
  const results = [];
  const began = Date.now();
  for (const [a, b] of opts.compare) {
    const routes = opts.routes.filter((r) => SERVERS[a].routes.includes(r) && SERVERS[b].routes.includes(r));
    for (const route of routes) {
      const servers = [await start(a, ports[0], pin), await start(b, ports[1], pin)];
      try {
        await check(a, ports[0], route);
        await check(b, ports[1], route);
        if (opts.warmup > 0) await runPair(pin, ports, route, opts.warmup, 0);
        const pairs = [];
        let lost = 0;
        for (let i = 0; i < opts.pairs; i++) {
          const run = await runPair(pin, ports, route, opts.duration, i % 2);
          if (run === undefined) {
            lost++;
            continue;
          }
          const [ra, rb] = run;
          pairs.push({ a: ra.rps, b: rb.rps, ratio: ra.rps / rb.rps, bad: ra.bad + rb.bad });
          console.log(
            `${runner.name}: ${a} ÷ ${b} ${ROUTES[route].path} pair ${i + 1}: ${fmtInt(ra.rps)} ÷ ${fmtInt(rb.rps)} = ${(ra.rps / rb.rps).toFixed(3)}`,
          );
        }
        results.push({ a, b, route, pairs, lost });
      } finally {
        for (const s of servers) await stopServer(s);
      }
    }
  }
  facts.seconds = Math.round((Date.now() - began) / 1000);
  mkdirSync(join(BENCH_DIR, 'results', 'raw'), { recursive: true });
  const raw = join(BENCH_DIR, 'results', 'raw', `http-paired-${facts.date.replace(/[:.]/g, '-')}.json`);
  writeFileSync(raw, `${JSON.stringify({ opts, facts, results }, null, 2)}\n`);
  writeFileSync(opts.out, report(facts, results));
  console.log(
    `${runner.name}: wrote ${relative(process.cwd(), opts.out)} (raw: ${relative(process.cwd(), raw)})`,
  );
}

const fmt = (x) => x.toFixed(3);

function report(facts, results) {
  const rows = results.map(({ a, b, route, pairs, lost }) => {
    const ratios = pairs.map((p) => p.ratio);
    const { median, low, high } = bootstrapMedian(ratios, { seed: `${a}:${b}:${route}` });
    const med = (key) => fmtInt(medianOf(pairs.map((p) => p[key])));
    const bad = pairs.reduce((sum, p) => sum + p.bad, 0);
    return { a, b, route, ratios, median, low, high, medA: med('a'), medB: med('b'), bad, lost };
  });
  const servers = [...new Set(results.flatMap((r) => [r.a, r.b]))];
  return `# weir HTTP benchmark, paired

Generated by \`bench/http-paired.mjs\`; do not edit by hand, re-run it. See \`bench/README.md\`.

## Summary

Each row: ${opts.pairs} pairs of ${opts.duration} s. In a pair both servers run at once, pinned to core 0, each
under its own wrk (-c${opts.connections}, one thread) on core 1. Ratio: a's requests a second ÷ b's in the same
${opts.duration} s; the median over the pairs, and in brackets its 95 % bootstrap interval (the pairs resampled 2,000
times, seeded). Each server has about half a core, so req/s are about half of a solo run's; the ratio is what
counts.

| a ÷ b | route | median req/s (a / b) | ratio [95 % interval] | ratios, pair by pair | errors and non-2xx |
| --- | --- | ---: | ---: | --- | ---: |
${rows.map((r) => `| ${r.a} ÷ ${r.b} | \`${ROUTES[r.route].path}\`${ROUTES[r.route].script ? ' (POST)' : ''} | ${r.medA} / ${r.medB} | **${fmt(r.median)}×** [${fmt(r.low)}–${fmt(r.high)}] | ${r.ratios.map(fmt).join(', ')}${r.lost ? ` (${r.lost} left out: no wrk result)` : ''} | ${r.bad} |`).join('\n')}

## Servers

${servers.map((s) => `- **${s}**: ${SERVERS[s].what}`).join('\n')}

## Machine

| fact | value |
| --- | --- |
| date | ${facts.date} (took ${facts.seconds} s) |
| nproc | ${facts.nproc} |
| CPU | ${facts.cpuModel} |
| kernel | ${facts.kernel} |
| Node | ${facts.node} |
| wrk | ${facts.wrk} |
| weir | commit ${facts.commit} |
| load average before the run | ${facts.load} |

## Command

\`\`\`sh
node bench/http-paired.mjs ${process.argv.slice(2).join(' ')}
\`\`\`

Per comparison and route: both servers started (\`taskset -c 0 node servers/<file>\`, \`NODE_ENV=production\`,
ports ${opts.port} and ${opts.port + 1}), each one's answer checked (the same bytes from both), ${opts.warmup > 0 ? `one discarded pair of ${opts.warmup} s, ` : ''}then the pairs:
\`taskset -c 1 wrk -t1 -c${opts.connections} -d${opts.duration}s --latency http://127.0.0.1:<port><path>\` (POST /users: \`-s schemas/post-users.lua\`)
twice at once, the one started first alternating; then both stopped (SIGTERM by PID).
`;
}

await main();
