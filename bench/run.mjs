#!/usr/bin/env node
// Comparative HTTP benchmark: weir vs fastify vs raw node:http on TechEmpower-style /plaintext and /json,
// and the same two routes of weir's reference service started as `npm start` starts it (weir-start).
//
//   npm run bench                       (from the repo root; defaults below)
//   BENCH_DURATION=5 npm run bench      (env knobs)
//   node bench/run.mjs --duration 5 --routes json --servers weir,node   (or flags)
//
// Each server runs as ONE process pinned to core 0; wrk (one thread) is pinned to core 1. Per server and
// route: a discarded warm-up run, then the measured run. Servers alternate across rounds (the order is
// rotated every round) and the median round per server/route is reported in bench/RESULTS.md, with the
// server's peak RSS (VmHWM) read as each measured run ends. Raw wrk outputs go to
// bench/results/raw/<timestamp>/ (gitignored). Traffic goes to 127.0.0.1 only.
//
// With --base <git-rev> (BENCH_BASE), weir at that revision joins the run as one more server,
// `weir@<shortrev>`: it is checked out in a temporary git worktree, built there, and served by a copy of
// servers/weir.mjs that imports that build. The worktree is removed at the end, also on failure.
//
// See bench/README.md.

import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  BENCH_DIR,
  beginRun,
  cleanupOnExit,
  commandLine,
  finishRun,
  fmtInt,
  fmtMiB,
  fmtMs,
  fmtPct,
  fmtRatio,
  fmtRatios,
  get,
  HOST,
  have,
  int,
  list,
  machineAndCommand,
  machineFacts,
  markdown,
  median,
  medianRound,
  NPM_START_ARGV,
  NPM_START_BUILD,
  option,
  outOption,
  pairedRatios,
  pinning,
  prepareNpmStart,
  ROOT,
  rerenderOption,
  rerenderReport,
  roundsOrder,
  runRounds,
  runStep,
  startServer,
  stopServer,
  versionOf,
  wrkCommand,
} from './lib.mjs';

const ALL_SERVERS = ['weir', 'weir-start', 'fastify', 'node'];
const ALL_ROUTES = ['plaintext', 'json'];
// `base` is weir at the --base revision; its label becomes `weir@<shortrev>` once the revision is resolved.
const LABEL = {
  weir: 'weir',
  'weir-start': 'weir (npm start)',
  base: 'weir@base',
  fastify: 'fastify',
  node: 'node:http',
};
/** The weirs held against fastify and node:http in the report: servers/weir.mjs and the service. */
const WEIRS = ['weir', 'weir-start'];
/** What weir is held against: req/s at least 0.9 × node:http's, peak RSS at most 1.25 × its. */
const TARGET = { rps: 0.9, rss: 1.25 };
// The base server is generated at run time (gitignored) from servers/weir.mjs, and deleted after the run.
const BASE_SERVER_FILE = '.weir-base.mjs';
const L = (s) => LABEL[s];
const serverFile = (name) => join('servers', name === 'base' ? BASE_SERVER_FILE : `${name}.mjs`);

// ---------------------------------------------------------------------------------------------- options

const runner = {
  ...commandLine({
    name: 'bench',
    usage: `Usage: node bench/run.mjs [options]     (or: npm run bench)

Options (each also as an env variable; a flag wins over the env):`,
    columns: [20, 46, 19],
    envPrefix: 'BENCH_',
    options: {
      duration: option('<s>', 'measured run per server/route, seconds', '10', int(1)),
      warmup: option('<s>', 'discarded warm-up run, seconds (0 = none)', '5', int(0)),
      connections: option('<n>', 'wrk connections (-c)', '64', int(1)),
      rounds: option('<n>', 'rounds; the median round is reported', '3', int(1)),
      routes: option('<list>', '', undefined, list(ALL_ROUTES), {
        line: `  --routes <list>     ${`comma list of ${ALL_ROUTES.join(',')}`.padEnd(45)} BENCH_ROUTES       default all`,
      }),
      servers: option('<list>', '', undefined, list(ALL_SERVERS), {
        line: `  --servers <list>    ${`comma list of ${ALL_SERVERS.join(',')}`.padEnd(45)} BENCH_SERVERS      default all`,
      }),
      port: option('<n>', 'port the servers listen on (127.0.0.1)', '3100', int(1024, 65535)),
      'no-build': option('', 'skip `npm run build` at the repo root', undefined, (value) => !value, {
        key: 'build',
      }),
      base: option(
        '<git-rev>',
        'also run weir at that revision: weir@<rev>',
        undefined,
        (v) => v?.trim() || undefined,
        {
          shown: 'none',
          note: '(built in a temporary git worktree; before/after ratios in the report)',
        },
      ),
      out: outOption('where to write the report'),
      rerender: rerenderOption("a run's results/raw/<timestamp>/summary.json"),
    },
  }),
  script: 'run',
  envPrefix: 'BENCH_',
  rawPrefix: '',
};
const { flags, opts, fail } = runner;
// weir@base runs right after weir in the rotation, so the two are neighbours in most rounds.
if (opts.base !== undefined) opts.servers.splice(opts.servers.indexOf('weir') + 1, 0, 'base');

/** A set-up step (see runStep()); the runner fails if it does. */
function step(command, args, cwd = ROOT) {
  try {
    runStep('bench', command, args, cwd);
  } catch (err) {
    fail(err.message);
  }
}

// ----------------------------------------------------------------------------------------------- set-up

function ensureWrk() {
  if (have('wrk')) return;
  console.log('bench: wrk not found; installing it with apt-get');
  if (!have('apt-get')) fail('wrk is not installed and apt-get is not available: install wrk by hand');
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  if (sudo.length > 0 && !have('sudo'))
    fail('wrk is not installed and this user cannot run apt-get: install wrk by hand');
  const [cmd, ...pre] = sudo.length > 0 ? ['sudo', 'apt-get'] : ['apt-get'];
  step(cmd, [...pre, 'update', '-qq']);
  step(cmd, [...pre, 'install', '-y', '-qq', 'wrk']);
  if (!have('wrk')) fail('wrk still not found after apt-get install');
}

function prepare() {
  ensureWrk();
  if (!have('taskset')) fail('taskset (util-linux) is required to pin the server and wrk to cores');
  const weirs = opts.servers.filter((s) => WEIRS.includes(s));
  if (weirs.length > 0 || opts.servers.includes('base')) {
    if (!existsSync(join(ROOT, 'node_modules'))) step('npm', ['ci']);
  }
  if (weirs.length > 0) {
    if (opts.build) step('npm', ['run', 'build']);
    if (!existsSync(join(ROOT, 'dist', 'index.js')))
      fail('dist/index.js is missing: run `npm run build` at the repo root');
  }
  if (opts.servers.includes('fastify') && !existsSync(join(BENCH_DIR, 'node_modules')))
    step('npm', [existsSync(join(BENCH_DIR, 'package-lock.json')) ? 'ci' : 'install'], BENCH_DIR);
}

// ----------------------------------------------------------------------------------------- --base <rev>

/** The temporary worktree of --base while it exists: removed by removeBase(), which runs on every exit. */
let baseTree;

function git(args) {
  return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** The commit --base names (checked before anything is built), for the report: { rev, sha, short, subject }. */
function resolveBase(rev) {
  let sha;
  try {
    sha = git(['rev-parse', '--verify', '--end-of-options', `${rev}^{commit}`]);
  } catch {
    fail(`--base ${rev}: not a commit of this repository`);
  }
  const short = git(['rev-parse', '--short', sha]);
  const subject = git(['log', '-1', '--format=%s', sha]);
  LABEL.base = `weir@${short}`;
  return { rev, sha, short, subject };
}

/**
 * Checks out weir at the --base commit in a temporary git worktree (sharing the repo's root node_modules
 * through a symlink), builds it there with its own `npm run build`, and writes servers/.weir-base.mjs: a
 * copy of servers/weir.mjs whose import points at that build.
 */
function prepareBase({ rev, sha, short, subject }) {
  const parent = mkdtempSync(join(tmpdir(), 'weir-bench-base-'));
  const dir = join(parent, 'weir');
  baseTree = { parent, dir, registered: false };
  step('git', ['worktree', 'add', '--detach', dir, sha]);
  baseTree.registered = true;
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  step('npm', ['run', 'build'], dir);
  const dist = join(dir, 'dist', 'index.js');
  if (!existsSync(dist)) fail(`--base ${rev}: \`npm run build\` in ${dir} made no dist/index.js`);

  const source = readFileSync(join(BENCH_DIR, 'servers', 'weir.mjs'), 'utf8');
  const from = "'../../dist/index.js'";
  if (!source.includes(from)) fail(`servers/weir.mjs no longer imports ${from}; update prepareBase()`);
  writeFileSync(
    join(BENCH_DIR, serverFile('base')),
    `// Generated by bench/run.mjs for --base ${rev} (${short}): servers/weir.mjs importing that revision's build.\n// Deleted after the run; gitignored.\n${source.replace(from, `'${pathToFileURL(dist).href}'`)}`,
  );
  console.log(`bench: ${LABEL.base} is ${sha} "${subject}", built in ${dir}`);
}

/** Removes the --base worktree and the generated server; safe to call more than once, and from 'exit'. */
function removeBase() {
  rmSync(join(BENCH_DIR, serverFile('base')), { force: true });
  if (!baseTree) return;
  const { parent, dir, registered } = baseTree;
  baseTree = undefined;
  // Unlink the node_modules symlink first, so that nothing can reach the repo's own node_modules.
  try {
    if (lstatSync(join(dir, 'node_modules')).isSymbolicLink()) unlinkSync(join(dir, 'node_modules'));
  } catch {
    // not there
  }
  if (registered) {
    const result = spawnSync('git', ['worktree', 'remove', '--force', dir], { cwd: ROOT, encoding: 'utf8' });
    if (result.status !== 0)
      console.error(
        `bench: \`git worktree remove --force ${dir}\` failed: ${(result.stderr ?? '').trim()}; deleting the directory, \`git worktree prune\` forgets it`,
      );
    else console.log(`bench: removed the worktree ${dir}`);
  }
  rmSync(parent, { recursive: true, force: true });
}

// ------------------------------------------------------------------------------------------------ servers

const EXPECTED = {
  plaintext: { type: /^text\/plain/, body: (b) => b === 'Hello, World!' },
  json: { type: /^application\/json/, body: (b) => JSON.parse(b).message === 'Hello, World!' },
};

/** Checks the TechEmpower rules on one response of each route: status, type, body, Server, Date, Content-Length. */
async function checkResponses(name) {
  for (const route of opts.routes) {
    const res = await get(opts.port, `/${route}`);
    const problems = [];
    if (res.status !== 200) problems.push(`status ${res.status}`);
    if (!EXPECTED[route].type.test(res.headers['content-type'] ?? ''))
      problems.push(`content-type ${res.headers['content-type']}`);
    try {
      if (!EXPECTED[route].body(res.body)) problems.push(`body ${JSON.stringify(res.body)}`);
    } catch {
      problems.push(`body ${JSON.stringify(res.body)}`);
    }
    for (const header of ['server', 'date', 'content-length'])
      if (!res.headers[header]) problems.push(`no ${header} header`);
    if (problems.length > 0)
      throw new Error(`${name} /${route} breaks the benchmark rules: ${problems.join(', ')}`);
  }
}

/** The data folder of weir-start (its SQLite database and job queue), removed at exit. */
let dataDir;

/**
 * The environment of weir-start beyond PORT and NODE_ENV: the service's defaults (SQLite, `memory:`), its
 * two SQLite files in a temporary folder rather than the checkout's ./data/.
 */
function startEnv() {
  dataDir ??= mkdtempSync(join(tmpdir(), 'weir-bench-start-'));
  return {
    DATABASE_URL: `sqlite:${join(dataDir, 'weir.db')}`,
    QUEUE_URL: `sqlite:${join(dataDir, 'queue.db')}`,
    CACHE_URL: 'memory:',
  };
}

/** Starts a server: bench/servers/<name>.mjs, or for weir-start `node scripts/start.mjs` in the repo root. */
const startWeirServer = (name, pin) =>
  startServer({
    name: `${LABEL[name]} server`,
    argv: [...pin.server, process.execPath, ...(name === 'weir-start' ? NPM_START_ARGV : [serverFile(name)])],
    cwd: name === 'weir-start' ? ROOT : undefined,
    env: { PORT: String(opts.port), NODE_ENV: 'production', ...(name === 'weir-start' ? startEnv() : {}) },
    port: opts.port,
    probe: () => get(opts.port, `/${opts.routes[0]}`),
  });

/**
 * Readies weir-start: what `npm start` runs (see prepareNpmStart()), then one start that is not measured,
 * in which the service creates and seeds its database, so that every measured start finds it there.
 */
async function prepareStart(pin) {
  await prepareNpmStart(runner);
  try {
    await stopServer(await startWeirServer('weir-start', pin));
  } catch (err) {
    fail(err.message);
  }
}

// ------------------------------------------------------------------------------------------------- report

/** req/s ÷ the server's share of core 0 (undefined for a round without CPU data). */
const perCpu = (r) => (r?.cpu?.server > 0 ? r.rps / (r.cpu.server / 100) : undefined);

function writeReport(summary) {
  const { facts, results, order, pin, rawDir } = summary;
  // A weir's req/s over another server's, round by round (see pairedRatios()), plain and per CPU share
  // (rounds without CPU data left out).
  const roundRatios = (route, other, w = 'weir') => pairedRatios(results[route][w], results[route][other]);
  const pairedMedian = (route, other, w) => median(roundRatios(route, other, w));
  const roundCpuRatios = (route, other) =>
    results[route].weir
      .map((w) => [perCpu(w), perCpu(results[route][other].find((r) => r.round === w.round))])
      .filter(([a, b]) => a !== undefined && b !== undefined)
      .map(([a, b]) => a / b);
  const hasBase = opts.servers.includes('base');
  // Ratio columns of the tables: vs fastify, node:http and weir@base, for those in the run.
  const ratioCols = [
    ['fastify', 'fastify'],
    ['node', 'node:http'],
    ['base', LABEL.base],
  ].filter(([server]) => opts.servers.includes(server));
  const { p, table, lines, write } = markdown('bench');
  const wrkExample = (seconds) => wrkCommand(pin, opts, seconds, '/<route>').join(' ');
  const serverExample = `${pin.server.join(' ')} node servers/<server>.mjs`.trim();
  const hasStart = opts.servers.includes('weir-start');
  const weirs = WEIRS.filter((w) => opts.servers.includes(w));

  lines([
    '# weir HTTP benchmark results',
    '',
    'Generated by `bench/run.mjs`; do not edit by hand, re-run it. See `bench/README.md` for what is measured and how.',
    '',
  ]);
  machineAndCommand(p, summary, {
    tools: [['fastify', facts.fastify]],
    more: [
      hasStart && [LABEL['weir-start'], NPM_START_BUILD],
      facts.base && [
        LABEL.base,
        `commit ${facts.base.sha.slice(0, 12)} (\`--base ${facts.base.rev}\`) "${facts.base.subject.replace(/\|/g, '\\|')}", checked out in a temporary git worktree and built there with its own \`npm run build\``,
      ],
    ].filter(Boolean),
  });
  lines([
    'which ran, per server and route:',
    '',
    '```sh',
    `PORT=${opts.port} NODE_ENV=production ${serverExample}   # one process, in bench/`,
    hasStart &&
      `PORT=${opts.port} NODE_ENV=production DATABASE_URL=sqlite:<tmp>/weir.db QUEUE_URL=sqlite:<tmp>/queue.db CACHE_URL=memory: ${`${pin.server.join(' ')} node scripts/start.mjs`.trim()}   # ${LABEL['weir-start']}, in the repo root`,
    hasBase &&
      `#   (${LABEL.base}: servers/.weir-base.mjs, servers/weir.mjs importing the worktree's dist/index.js)`,
    opts.warmup > 0 && `${wrkExample(opts.warmup)}   # warm-up, discarded`,
    `${wrkExample(opts.duration)}   # measured`,
    '```',
    '',
    '## Method',
    '',
    `- Each server is **one Node process** ${pin.pinned ? 'pinned to **core 0**' : '(unpinned: one core only)'}; the load generator is **wrk, one thread, ${opts.connections} keep-alive connections**, ${pin.pinned ? 'pinned to **core 1**' : 'unpinned'}, over loopback to ${HOST}:${opts.port}.`,
    `- Per server: start it, wait until it answers, check each route's response (200, content type, body, \`Server\`, \`Date\`, \`Content-Length\`), then per route a **${opts.warmup} s warm-up** (discarded; lets V8 optimise) and a **${opts.duration} s measured run**; then the server is killed (SIGTERM by PID). A fresh process per server per round.`,
    `- **${opts.rounds} round(s)**; the server order rotates every round (${roundsOrder(order, L)}) so drift of the machine does not favour one server.`,
    "- Reported: the **median round** per server/route by req/s (for an even count, the lower middle one), with that round's p50/p99 latency from wrk's `--latency` distribution (converted to ms). Ratios divide req/s. The per-round numbers are listed below each table, with the spread (max−min)/median.",
    `- **Peak RSS**: VmHWM from \`/proc/<pid>/status\`, read as each measured run ends, in MiB: the most memory the server process has held since it started. Both routes run in one process, so /${opts.routes.at(-1)}'s figure includes what /${opts.routes[0]}'s run needed. The target for weir is at most ${TARGET.rss}× node:http's.`,
    hasStart &&
      `- **${LABEL['weir-start']}** is weir as its users meet it: the reference service (examples/service) started as \`npm start\` starts it, \`node scripts/start.mjs\` in the repo root (npm itself left out; \`bench/startup.mjs\` measures what it adds to a start), on its defaults but for its two SQLite files, in a temporary folder (database created and seeded by one start before the rounds) and \`CACHE_URL=memory:\`. Its /plaintext and /json are the same handlers as servers/weir.mjs's, in the whole service: every other route registered, the logger on at \`info\` (nothing logged per request), and its welcome-email worker polling the (empty) SQLite job queue every 100 ms.`,
    "- Handlers: weir returns a string / a fresh object from `app.get()` handlers; fastify 5 returns the same from `app.get()` with the logger off and `server` (and the text content type) set by `reply.header()`; node:http is a bare `createServer` listener that checks `req.url` and does `writeHead(200, {content-type, content-length, server, date})` + `end()`, with a fresh `JSON.stringify` per `/json` request. `Date` is a once-a-second cached string everywhere (weir's ticker, node:http's own `sendDate` for fastify, a 1 s interval in the node:http baseline).",
    hasBase &&
      `- **Before/after**: \`${LABEL.base}\` is weir at commit ${facts.base.short} (\`--base ${facts.base.rev}\`), built in a temporary git worktree and served by the same server file as \`weir\` (this tree's build), importing that build instead. It takes part in the rotation like any server. Below each table, weir ÷ ${LABEL.base} round by round: the two ran minutes apart in each round, so these paired ratios are the before/after number to read; the CPU-normalised ones correct for a round where one of them lost part of its core. The verdict calls weir faster or slower than ${LABEL.base} only when every per-round ratio, plain and CPU-normalised, is on that side of 1.`,
    '',
  ]);

  const verdicts = [];
  for (const route of opts.routes) {
    const runs = (server) => results[route][server];
    const med = Object.fromEntries(opts.servers.map((server) => [server, medianRound(runs(server))]));
    const eff = Object.fromEntries(
      opts.servers.map((server) => {
        const per = runs(server)
          .map(perCpu)
          .filter((x) => x !== undefined);
        return [server, per.length > 0 ? median(per) : undefined];
      }),
    );
    // A column per server of ratioCols: `of[server]` ÷ `of[other]`.
    const ratios = (of) =>
      ratioCols.map(([other, label]) => [
        `ratio vs ${label}`,
        (s) => (of[other] ? fmtRatio(of[s] / of[other]) : 'n/a'),
      ]);
    const rss = (s) => med[s].peakRssMiB;
    lines([`## /${route}`, '']);
    table(
      [
        ['server', L, '---'],
        ['req/s', (s) => fmtInt(med[s].rps)],
        ['p50 ms', (s) => fmtMs(med[s].p50)],
        ['p99 ms', (s) => fmtMs(med[s].p99)],
        ...ratios(Object.fromEntries(opts.servers.map((s) => [s, med[s].rps]))),
        ['peak RSS MiB', (s) => fmtMiB(rss(s))],
        med.node && ['peak RSS ÷ node:http', (s) => fmtRatio(rss(s) / rss('node'))],
      ],
      opts.servers,
    );
    p();
    const withCpu = (r, c) =>
      `${r}${c.length > 0 ? `; normalised by each one's CPU share: ${fmtRatios(c)} (median ${fmtRatio(median(c))})` : ''}`;
    if (hasBase && med.weir) {
      const [r, c] = [roundRatios(route, 'base'), roundCpuRatios(route, 'base')];
      lines([
        `**weir vs ${LABEL.base}**, per-round ratios of req/s, round by round: weir ÷ ${LABEL.base} ${withCpu(`${fmtRatios(r)} (median ${fmtRatio(median(r))})`, c)}.`,
        '',
      ]);
    }
    const paired = weirs.flatMap((w) =>
      [
        ['fastify', 'fastify'],
        ['node', 'node:http'],
      ]
        .filter(([other]) => med[w] && med[other])
        .map(([other, label]) => {
          const r = roundRatios(route, other, w);
          return `${L(w)} ÷ ${label} ${fmtRatios(r)} (median ${fmtRatio(median(r))})`;
        }),
    );
    if (paired.length > 0) lines([`Per-round ratios of req/s, round by round: ${paired.join('; ')}.`, '']);
    if (opts.servers.every((server) => eff[server] !== undefined)) {
      lines([
        'Normalised by the CPU the server process actually got (median over rounds of req/s ÷ its share of core 0): less sensitive to other load on the machine, but blind to a server that cannot keep its core busy.',
        '',
      ]);
      table(
        [
          ['server', L, '---'],
          ['server CPU % (median)', (s) => fmtPct(median(runs(s).map((r) => r.cpu?.server ?? 0)))],
          ['req per server CPU-second', (s) => fmtInt(eff[s])],
          ...ratios(eff),
        ],
        opts.servers,
      );
      p();
    }
    lines(['<details><summary>every round</summary>', '']);
    table(
      [
        ['server', ([s]) => L(s), '---'],
        ['round', ([, r]) => r.round],
        ['req/s', ([, r]) => fmtInt(r.rps)],
        ['p50 ms', ([, r]) => fmtMs(r.p50)],
        ['p99 ms', ([, r]) => fmtMs(r.p99)],
        ['server CPU', ([, r]) => fmtPct(r.cpu?.server)],
        ['other load on core 0', ([, r]) => fmtPct(r.cpu?.otherCore0)],
        ['steal on core 0', ([, r]) => fmtPct(r.cpu?.stealCore0)],
        ['wrk CPU', ([, r]) => fmtPct(r.cpu?.wrk)],
        ['peak RSS MiB', ([, r]) => fmtMiB(r.peakRssMiB)],
        ['socket errors', ([, r]) => r.socketErrors],
        ['non-2xx', ([, r]) => r.non2xx],
      ],
      opts.servers.flatMap((s) => runs(s).map((r) => [s, r])),
    );
    const spread = (rps) => `${(((Math.max(...rps) - Math.min(...rps)) / median(rps)) * 100).toFixed(1)} %`;
    lines([
      '',
      `Spread of req/s across rounds, (max−min)/median: ${opts.servers.map((s) => `${L(s)} ${spread(runs(s).map((r) => r.rps))}`).join(', ')}.`,
      '',
      '</details>',
      '',
    ]);
    if (hasBase && med.weir) {
      const [r, c] = [roundRatios(route, 'base'), roundCpuRatios(route, 'base')];
      const all = [...r, ...c];
      const call = all.every((x) => x > 1)
        ? 'faster than'
        : all.every((x) => x < 1)
          ? '**slower** than'
          : 'not clearly different from';
      const range = (x) =>
        `${Math.min(...x).toFixed(2)}–${Math.max(...x).toFixed(2)}, median ${fmtRatio(median(x))}`;
      verdicts.push(
        `/${route}: weir is ${call} ${LABEL.base} (${fmtRatio(med.weir.rps / med.base.rps)} median rounds; per-round ratios ${range(r)}${c.length > 0 ? `; CPU-normalised ${range(c)}` : ''}).`,
      );
    }
    for (const w of weirs) {
      if (!med[w]) continue;
      for (const [other, bar, words] of [
        ['fastify', 1, 'fastify'],
        ['node', TARGET.rps, `${TARGET.rps}× node:http`],
      ]) {
        if (!med[other]) continue;
        const r = med[w].rps / med[other].rps;
        verdicts.push(
          `/${route}: ${L(w)} is ${r >= bar ? 'at or above' : '**below**'} ${words} (${fmtRatio(r)} median rounds; ${fmtRatio(pairedMedian(route, other, w))} median of per-round ratios).`,
        );
      }
      const m = med.node ? rss(w) / rss('node') : undefined;
      if (Number.isFinite(m))
        verdicts.push(
          `/${route}: ${L(w)}'s peak RSS, ${fmtMiB(rss(w))} MiB, is ${fmtRatio(m)} node:http's (${fmtMiB(rss('node'))} MiB): ${m <= TARGET.rss ? 'within' : '**above**'} ${TARGET.rss}×.`,
        );
    }
  }
  if (verdicts.length > 0) lines(['## Verdict', '', ...verdicts.map((v) => `- ${v}`), '']);

  const everyRun = opts.routes.flatMap((route) =>
    opts.servers.flatMap((server) => results[route][server].map((r) => [`${LABEL[server]} /${route}`, r])),
  );
  const errors = everyRun
    .filter(([, r]) => r.socketErrors > 0 || r.non2xx > 0)
    .map(([what, r]) =>
      `${what} round ${r.round}: ${r.socketErrorText || ''} ${r.non2xx ? `non-2xx ${r.non2xx}` : ''}`.trim(),
    );
  const starved = everyRun
    .filter(([, r]) => (r.cpu?.otherCore0 ?? 0) >= 10 || (r.cpu?.stealCore0 ?? 0) >= 10)
    .map(
      ([what, r]) =>
        `${what} round ${r.round} (other ${fmtPct(r.cpu.otherCore0)}, steal ${fmtPct(r.cpu.stealCore0)})`,
    );
  const wrkCpu = Math.max(...everyRun.map(([, r]) => r.cpu?.wrk ?? 0));
  lines([
    '## Caveats',
    '',
    `- **Loopback, ${facts.nproc} cores, one process per server.** The load generator shares the machine (its own core, but the same caches, memory bus and kernel); the network stack is loopback, so per-request syscall and parser costs dominate and a real NIC would change the absolute numbers. No cluster / multi-process mode was used for anyone.`,
    wrkCpu >= 90
      ? `- **wrk may have been the limit**: it used up to ${fmtPct(wrkCpu)} of its core, so the fastest server may be understated and ratios against it flattered; use fewer connections or a faster machine.`
      : `- wrk was not the limit: it used at most ${fmtPct(wrkCpu)} of its core, while the servers ran near 100 % of theirs.`,
    '- These are hello-world routes: they measure the per-request overhead of each stack (routing, context, header building, serialisation), not the cost of real handlers, body parsing or middleware.',
    '- A shared or virtualised machine drifts; look at the per-round tables and their spread before reading anything into differences of a few percent.',
    starved.length > 0
      ? `- **Contention**: in ${starved.length} measured run(s) other processes or the hypervisor took 10 % or more of the server's core: ${starved.join('; ')}. Those rounds understate that server; the median and the CPU-normalised table soften this but do not remove it.`
      : '- No measured run lost 10 % or more of core 0 to other processes or to steal time.',
    errors.length > 0
      ? `- **wrk reported errors**: ${errors.join('; ')}.`
      : '- wrk reported no socket errors and no non-2xx responses in any measured run.',
    '',
    `Raw wrk outputs (warm-ups included) were written to \`${relative(BENCH_DIR, rawDir)}/\` (gitignored).`,
    '',
  ]);
  write(opts.out);
}

// ----------------------------------------------------------------------------------------------------- main

async function main() {
  if (flags.rerender !== undefined)
    return rerenderReport(runner, (summary) => {
      if (summary.facts.base) LABEL.base = `weir@${summary.facts.base.short}`;
      writeReport(summary);
    });
  // Every way out (fail(), a signal, an exception, the normal end) kills the server and wrk, and removes
  // the --base worktree.
  cleanupOnExit(() => {
    removeBase();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });
  const base = opts.base !== undefined ? resolveBase(opts.base) : undefined;
  prepare();
  if (base) prepareBase(base);
  const pin = pinning();
  if (opts.servers.includes('weir-start')) await prepareStart(pin);
  // The machine's facts with fastify's version before the weir commit, as always in summary.json.
  const { commit, ...machine } = machineFacts();
  const run = beginRun(runner, {
    facts: { ...machine, fastify: versionOf(BENCH_DIR, 'fastify'), commit, base },
    pin,
  });
  const perRoute = opts.warmup + opts.duration;
  const estimate = opts.rounds * opts.servers.length * (opts.routes.length * perRoute + 2);
  console.log(
    `bench: ${opts.servers.map(L).join(', ')} × /${opts.routes.join(', /')} × ${opts.rounds} round(s): ${opts.warmup} s warm-up + ${opts.duration} s measured, -c${opts.connections}; about ${Math.ceil(estimate / 60)} min`,
  );
  const results = Object.fromEntries(
    opts.routes.map((route) => [route, Object.fromEntries(opts.servers.map((s) => [s, []]))]),
  );
  const labelWidth = Math.max(...opts.servers.map((s) => LABEL[s].length));
  const order = await runRounds(runner, run, {
    start: (server) => startWeirServer(server, pin),
    check: checkResponses,
    routesOf: () => opts.routes,
    pathOf: (route) => `/${route}`,
    record(server, route, r) {
      results[route][server].push(r);
      const cpu = r.cpu;
      console.log(
        `bench: round ${r.round} ${LABEL[server].padEnd(labelWidth)} /${route.padEnd(9)} ${fmtInt(r.rps).padStart(8)} req/s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  server CPU ${fmtPct(cpu.server)}  other on core 0 ${fmtPct(cpu.otherCore0)}  steal ${fmtPct(cpu.stealCore0)}${r.socketErrors || r.non2xx ? `  (errors: ${r.socketErrorText} non-2xx ${r.non2xx})` : ''}`,
      );
    },
  });
  removeBase();
  finishRun(runner, run, { results, order }, writeReport);
}

await main();
