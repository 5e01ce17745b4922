#!/usr/bin/env node
// weir against fastify on routes with schemas, four servers:
//   weir            servers/weir-schemas.mjs (valibot schemas, weir from dist/), production's default: each
//                   answer checked against its response schema, then written;
//   weir-unchecked  the same with RESPONSE_SCHEMAS=off (`responseSchemas: 'off'`): answers not checked, only
//                   written by the compiled serialiser, which is what fastify does: the like-for-like one;
//   weir-typebox    the same with VALIDATOR=typebox: the rules as TypeBox schemas through weir/schema/typebox
//                   (ajv's compiled code), answers checked as weir's are by default;
//   fastify         servers/fastify-schemas.mjs (the same rules as JSON Schemas: ajv for params and bodies,
//                   fast-json-stringify for answers, which it does not validate);
// each one process pinned to core 0, under wrk (one thread, keep-alive, pinned to core 1) on three routes:
//   create    POST /users with a JSON body (wrk's Lua script bench/schemas/post-users.lua): body validated,
//             201 answer checked and written (weir) or written (weir-unchecked, fastify) by its schema;
//   read      GET /users/7: params validated, a user of ten fields (an address, five tasks) as the 200 body;
//   noschema  GET /json-noschema/7: the same user without a response schema, JSON.stringify in all.
// Before loading a server the runner checks its answers: the valid requests answer byte for byte the
// fixture of bench/schemas/data.mjs (so all servers answer the same bytes), and requests that break one
// rule each answer 400 in all. Per server and route a discarded warm-up, then the measured run; --rounds
// rounds with the servers' order rotated, a fresh process per server and round. Reported per route: req/s
// per round, weir ÷ fastify and weir-unchecked ÷ fastify in the same round with their medians, p50/p99 of
// the median round, the server's CPU per request (user + system, from /proc) and its peak RSS; and per
// server what a response schema costs: read ÷ noschema in the same process. Raw wrk outputs and
// summary.json go to bench/results/raw/schemas-<timestamp>/. Traffic goes to 127.0.0.1 only; every
// process is stopped by PID; each wrk run is bounded in time.
//
//   npm run bench:schemas                       (about 8 minutes; writes bench/RESULTS-schemas.md)
//   node bench/schemas.mjs --quick --out /tmp/schemas.md   (1 round of 3 s runs: about 45 s)
//   node bench/schemas.mjs --routes read,noschema --rounds 5

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BENCH_DIR,
  beginRun,
  cleanupOnExit,
  commandLine,
  finishRun,
  fmtInt,
  fmtMs,
  fmtPct,
  have,
  int,
  list,
  machineFacts,
  option,
  outOption,
  pinning,
  quietWaits,
  ROOT,
  rerenderOption,
  rerenderReport,
  runRounds,
  runStep,
  send,
  startServer,
  userSysTicks,
  versionOf,
} from './lib.mjs';
import { createdUser, NEW_USER, userOf } from './schemas/data.mjs';
import { cpuUs, fmtUs, writeReport } from './schemas/report.mjs';

/**
 * The servers by the names of --servers: the file in servers/ and what it runs with besides PORT and
 * NODE_ENV (weir's RESPONSE_SCHEMAS '' is weir's default, whatever the shell that runs this has set).
 */
const SERVER = {
  weir: { file: 'weir-schemas.mjs', env: { RESPONSE_SCHEMAS: '', VALIDATOR: '' } },
  'weir-unchecked': { file: 'weir-schemas.mjs', env: { RESPONSE_SCHEMAS: 'off', VALIDATOR: '' } },
  'weir-typebox': { file: 'weir-schemas.mjs', env: { RESPONSE_SCHEMAS: '', VALIDATOR: 'typebox' } },
  fastify: { file: 'fastify-schemas.mjs', env: {} },
};
const SERVERS = Object.keys(SERVER);
const ROUTE = {
  create: { path: '/users', script: join(BENCH_DIR, 'schemas', 'post-users.lua') },
  read: { path: '/users/7' },
  noschema: { path: '/json-noschema/7' },
};
const ROUTES = Object.keys(ROUTE);

/** The reader of an integer option whose default is `normal`, or `quick` with --quick. */
const quickInt = (min, max, normal, quick) => (value, flag, runner) =>
  int(min, max)(value ?? (runner.flags.quick ? quick : normal), flag, runner);
const listLine = (flag, text, shown) =>
  `  ${`--${flag} <list>`.padEnd(20)}${text.padEnd(46)} default ${shown}`;

const runner = {
  ...commandLine({
    name: 'bench:schemas',
    usage: 'Usage: node bench/schemas.mjs [options]     (or: npm run bench:schemas)\n',
    columns: [20, 47],
    options: {
      duration: option('<s>', 'measured run per server/route, s', undefined, quickInt(1, 120, '10', '3'), {
        shown: '10 (3 with --quick)',
      }),
      warmup: option('<s>', 'discarded warm-up, s (0: none)', undefined, quickInt(0, 60, '5', '1'), {
        shown: '5 (1 with --quick)',
      }),
      connections: option('<n>', 'wrk connections (-c)', '64', int(1, 10_000)),
      rounds: option('<n>', 'rounds, servers rotated; medians', undefined, quickInt(1, 20, '3', '1'), {
        shown: '3 (1 with --quick)',
      }),
      quick: option('', 'a try: 1 round of 3 s runs after 1 s warm-ups'),
      routes: option('<list>', '', undefined, list(ROUTES), {
        line: listLine('routes', `comma list of ${ROUTES.join(',')}`, 'all'),
      }),
      servers: option('<list>', '', undefined, list(SERVERS), {
        line: listLine('servers', `comma list of ${SERVERS.join(',')}`, 'all (ratios need fastify)'),
      }),
      port: option('<n>', 'port the servers listen on (127.0.0.1)', '3160', int(1024, 65535)),
      'no-build': option('', 'skip `npm run build`: use the dist/ there', undefined, (value) => !value, {
        key: 'build',
      }),
      'wait-others': option('<s>', 'longest wait for another bench or test run, s', '600', int(0)),
      out: outOption('the report', 'schemas'),
      rerender: rerenderOption("a run's results/raw/schemas-<timestamp>/summary.json"),
    },
  }),
  script: 'schemas',
};
const { flags, opts, fail } = runner;

// ------------------------------------------------------------------------------------------------ checks

/** Requests that break one rule each: every server must refuse them with 400. */
const INVALID = [
  ['GET', '/users/0'],
  ['GET', '/users/abc'],
  ['GET', '/users/1.5'],
  ['GET', '/json-noschema/0'],
  ...[
    ['name empty', { name: '' }],
    ['name of 65', { name: 'x'.repeat(65) }],
    ['email without @', { email: 'ada.example.com' }],
    ['age 151', { age: 151 }],
    ['age 1.5', { age: 1.5 }],
    ['age -1', { age: -1 }],
    ['9 tags', { tags: Array.from({ length: 9 }, (_, i) => `t${i}`) }],
    ['tag of 33', { tags: ['x'.repeat(33)] }],
    ['no email', { email: undefined }],
  ].map(([what, change]) => ['POST', '/users', what, JSON.stringify({ ...NEW_USER, ...change })]),
];

/** One response's bytes on the wire: status line, headers (name, ': ', value, CRLF each), blank line, body. */
const wireBytes = (res) =>
  `HTTP/1.1 ${res.status} ${res.status === 201 ? 'Created' : 'OK'}\r\n`.length +
  res.rawHeaders.reduce((n, s) => n + Buffer.byteLength(s) + 2, 0) +
  2 +
  Buffer.byteLength(res.body);

/** What each route must answer, byte for byte: the fixture serialised as JSON.stringify writes it. */
const EXPECTED = {
  create: [201, JSON.stringify(createdUser(1, NEW_USER))],
  read: [200, JSON.stringify(userOf(7))],
  noschema: [200, JSON.stringify(userOf(7))],
};
const sizes = {}; // server → route → response bytes

/**
 * Checks a freshly started server (its first POST /users, so its id is 1): each route answers its status
 * and exactly the expected body as JSON, and every request of INVALID answers 400.
 */
async function check(server) {
  const problems = [];
  sizes[server] = {};
  for (const route of ROUTES) {
    const { path } = ROUTE[route];
    const res =
      route === 'create'
        ? await send(opts.port, path, { method: 'POST', body: JSON.stringify(NEW_USER), timeout: 5000 })
        : await send(opts.port, path);
    const [status, body] = EXPECTED[route];
    if (res.status !== status) problems.push(`${route}: status ${res.status}, expected ${status}`);
    if (!/^application\/json\b/.test(res.headers['content-type'] ?? ''))
      problems.push(`${route}: content-type ${res.headers['content-type']}`);
    if (res.body !== body)
      problems.push(`${route}: body ${res.body.slice(0, 200)}, expected ${body.slice(0, 200)}`);
    sizes[server][route] = wireBytes(res);
  }
  for (const [method, path, what = path, body] of INVALID) {
    const res = await send(opts.port, path, { method, body, timeout: 5000 });
    if (res.status !== 400) problems.push(`${method} ${path} (${what}): status ${res.status}, expected 400`);
  }
  if (problems.length > 0) throw new Error(`${server} answers differently:\n  ${problems.join('\n  ')}`);
}

// ------------------------------------------------------------------------------------------------- main

/** Whether weir's build imports fast-json-stringify somewhere in dist/ (the fast serialiser is in). */
function distLoadsFastJson() {
  const dist = join(ROOT, 'dist');
  const imports = /(?:from\s*|import\s*\(\s*|require\s*\(\s*)['"]fast-json-stringify['"]/;
  return readdirSync(dist, { recursive: true })
    .filter((f) => f.endsWith('.js'))
    .some((f) => imports.test(readFileSync(join(dist, f), 'utf8')));
}

async function main() {
  if (flags.rerender !== undefined) return rerenderReport(runner, (summary) => writeReport(summary, opts));
  cleanupOnExit();
  if (!have('wrk')) fail('needs wrk (apt-get install wrk)');
  if (!have('taskset')) fail('taskset (util-linux) is required to pin the server and wrk to cores');
  if (!existsSync(join(BENCH_DIR, 'node_modules', 'fastify')))
    fail('bench/node_modules has no fastify: run `npm ci` in bench/ first');
  if (!readFileSync(ROUTE.create.script, 'utf8').includes(`'${JSON.stringify(NEW_USER)}'`))
    fail('schemas/post-users.lua does not send NEW_USER of schemas/data.mjs: make them agree');
  const quiet = quietWaits('bench:schemas', opts.waitOthers);
  await quiet.wait();
  // Built after the wait: a build is CPU that another runner's measurement would feel.
  if (opts.build) runStep('bench:schemas', 'npm', ['run', 'build', '--silent']);
  if (!existsSync(join(ROOT, 'dist', 'index.js'))) fail('dist/index.js is missing: run `npm run build`');

  const pin = pinning();
  const { commit, ...machine } = machineFacts();
  const facts = {
    ...machine,
    fastify: versionOf(BENCH_DIR, 'fastify'),
    ajv: versionOf(BENCH_DIR, 'ajv'),
    fastJsonStringify: versionOf(BENCH_DIR, 'fast-json-stringify'),
    valibot: versionOf(BENCH_DIR, 'valibot'),
    weirFastJson: distLoadsFastJson(),
    commit,
  };
  const run = beginRun(runner, { facts, pin });
  const estimate =
    opts.rounds * opts.servers.length * (opts.routes.length * (opts.warmup + opts.duration) + 3);
  console.log(
    `bench:schemas: ${opts.servers.join(', ')} × ${opts.routes.join(', ')} × ${opts.rounds} round(s): ${opts.warmup} s warm-up + ${opts.duration} s measured, -c${opts.connections}; about ${Math.ceil(estimate / 60)} min`,
  );
  const results = Object.fromEntries(
    opts.routes.map((route) => [route, Object.fromEntries(opts.servers.map((s) => [s, []]))]),
  );
  let pid; // the server being measured
  const order = await runRounds(runner, run, {
    beforeStart: () => quiet.wait(),
    async start(server) {
      const active = await startServer({
        name: `${server} server`,
        argv: [...pin.server, process.execPath, join('servers', SERVER[server].file)],
        env: { PORT: String(opts.port), NODE_ENV: 'production', ...SERVER[server].env },
        port: opts.port,
        probe: () => send(opts.port, '/json-noschema/1'),
      });
      pid = active.child.pid;
      return active;
    },
    check,
    routesOf: () => opts.routes,
    pathOf: (route) => ROUTE[route].path,
    scriptOf: (route) => ROUTE[route].script,
    counters: {
      key: 'ticks',
      title: 'server CPU ticks (user, sys)',
      read: () => userSysTicks(pid),
      change: (_server, a, b) => ({ user: b.user - a.user, sys: b.sys - a.sys }),
    },
    record(server, route, r) {
      results[route][server].push(r);
      console.log(
        `bench:schemas: round ${r.round} ${server.padEnd(14)} ${route.padEnd(8)} ${fmtInt(r.rps).padStart(8)} req/s  p99 ${fmtMs(r.p99)} ms  ${fmtUs(cpuUs(r))} µs CPU/req  server CPU ${fmtPct(r.cpu.server)}  other on core 0 ${fmtPct(r.cpu.otherCore0)}${r.socketErrors || r.non2xx ? `  (errors: ${r.socketErrorText} non-2xx ${r.non2xx})` : ''}`,
      );
    },
  });
  finishRun(runner, run, { results, order, sizes, waits: quiet.summary() }, (summary) =>
    writeReport(summary, opts),
  );
}

await main();
