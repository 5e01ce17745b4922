#!/usr/bin/env node
// Comparative HTTP benchmark: weir vs fastify vs raw node:http on TechEmpower-style /plaintext and /json.
//
//   npm run bench                       (from the repo root; defaults below)
//   BENCH_DURATION=5 npm run bench      (env knobs)
//   node bench/run.mjs --duration 5 --routes json --servers weir,node   (or flags)
//
// Each server runs as ONE process pinned to core 0; wrk (one thread) is pinned to core 1. Per server and
// route: a discarded warm-up run, then the measured run. Servers alternate across rounds (the order is
// rotated every round) and the median round per server/route is reported in bench/RESULTS.md. Raw wrk
// outputs go to bench/results/raw/<timestamp>/ (gitignored). Traffic goes to 127.0.0.1 only.
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
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BENCH_DIR,
  cleanupOnExit,
  fmtInt,
  fmtMs,
  fmtPct,
  fmtRatio,
  get,
  HOST,
  have,
  invocation,
  killLive,
  machineAndCommand,
  machineFacts,
  markdown,
  measureWrk,
  median,
  medianRound,
  parseWrk,
  pinning,
  ROOT,
  readSummary,
  rotation,
  startServer,
  stopServer,
} from './lib.mjs';

const ALL_SERVERS = ['weir', 'fastify', 'node'];
const ALL_ROUTES = ['plaintext', 'json'];
// `base` is weir at the --base revision; its label becomes `weir@<shortrev>` once the revision is resolved.
const LABEL = { weir: 'weir', base: 'weir@base', fastify: 'fastify', node: 'node:http' };
// The base server is generated at run time (gitignored) from servers/weir.mjs, and deleted after the run.
const BASE_SERVER_FILE = '.weir-base.mjs';
const serverFile = (name) => join('servers', name === 'base' ? BASE_SERVER_FILE : `${name}.mjs`);

// ---------------------------------------------------------------------------------------------- options

const HELP = `Usage: node bench/run.mjs [options]     (or: npm run bench)

Options (each also as an env variable; a flag wins over the env):
  --duration <s>      measured run per server/route, seconds        BENCH_DURATION     default 10
  --warmup <s>        discarded warm-up run, seconds (0 = none)     BENCH_WARMUP       default 5
  --connections <n>   wrk connections (-c)                          BENCH_CONNECTIONS  default 64
  --rounds <n>        rounds; the median round is reported          BENCH_ROUNDS       default 3
  --routes <list>     comma list of ${ALL_ROUTES.join(',')}               BENCH_ROUTES       default all
  --servers <list>    comma list of ${ALL_SERVERS.join(',')}          BENCH_SERVERS      default all
  --port <n>          port the servers listen on (127.0.0.1)        BENCH_PORT         default 3100
  --no-build          skip \`npm run build\` at the repo root         BENCH_NO_BUILD=1
  --base <git-rev>    also run weir at that revision: weir@<rev>    BENCH_BASE         default none
                      (built in a temporary git worktree; before/after ratios in the report)
  --out <file>        where to write the report                     BENCH_OUT          default bench/RESULTS.md
  --rerender <file>   no run: rewrite the report from a run's results/raw/<timestamp>/summary.json
  -h, --help
`;

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(1);
}

const { values: flags } = parseArgs({
  options: {
    duration: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    rounds: { type: 'string' },
    routes: { type: 'string' },
    servers: { type: 'string' },
    port: { type: 'string' },
    'no-build': { type: 'boolean' },
    base: { type: 'string' },
    rerender: { type: 'string' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  strict: true,
});
if (flags.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

function intOption(flag, env, fallback, min) {
  const raw = flags[flag] ?? process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(String(raw).replace(/s$/, ''));
  if (!Number.isInteger(value) || value < min)
    fail(`--${flag} / ${env} must be an integer ≥ ${min}, got ${raw}`);
  return value;
}

function listOption(flag, env, all) {
  const raw = flags[flag] ?? process.env[env];
  if (raw === undefined || raw.trim() === '') return [...all];
  const picked = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of picked)
    if (!all.includes(name)) fail(`unknown ${flag.replace(/s$/, '')} "${name}" (one of ${all.join(', ')})`);
  return all.filter((name) => picked.includes(name)); // canonical order, no duplicates
}

const opts = {
  duration: intOption('duration', 'BENCH_DURATION', 10, 1),
  warmup: intOption('warmup', 'BENCH_WARMUP', 5, 0),
  connections: intOption('connections', 'BENCH_CONNECTIONS', 64, 1),
  rounds: intOption('rounds', 'BENCH_ROUNDS', 3, 1),
  routes: listOption('routes', 'BENCH_ROUTES', ALL_ROUTES),
  servers: listOption('servers', 'BENCH_SERVERS', ALL_SERVERS),
  port: intOption('port', 'BENCH_PORT', 3100, 1024),
  build: !(flags['no-build'] || process.env.BENCH_NO_BUILD === '1'),
  out: flags.out ?? process.env.BENCH_OUT ?? join(BENCH_DIR, 'RESULTS.md'),
  base: (flags.base ?? process.env.BENCH_BASE ?? '').trim() || undefined,
};
if (opts.port > 65535) fail('--port must be ≤ 65535');
// weir@base runs right after weir in the rotation, so the two are neighbours in most rounds.
if (opts.base !== undefined) {
  const at = opts.servers.indexOf('weir') + 1;
  opts.servers.splice(at, 0, 'base');
}

// ---------------------------------------------------------------------------------------------- helpers

function run(command, args, cwd) {
  console.log(
    `bench: $ ${command} ${args.join(' ')}${cwd === ROOT ? '' : `   (in ${relative(ROOT, cwd).startsWith('..') ? cwd : relative(ROOT, cwd) || '.'})`}`,
  );
  const result = spawnSync(command, args, {
    cwd,
    stdio: 'inherit',
    env: { ...process.env, npm_config_loglevel: process.env.npm_config_loglevel ?? 'error' },
  });
  if (result.status !== 0)
    fail(`\`${command} ${args.join(' ')}\` failed (exit ${result.status ?? result.signal})`);
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
  run(cmd, [...pre, 'update', '-qq'], ROOT);
  run(cmd, [...pre, 'install', '-y', '-qq', 'wrk'], ROOT);
  if (!have('wrk')) fail('wrk still not found after apt-get install');
}

function prepare() {
  ensureWrk();
  if (!have('taskset')) fail('taskset (util-linux) is required to pin the server and wrk to cores');
  if (opts.servers.includes('weir') || opts.servers.includes('base')) {
    if (!existsSync(join(ROOT, 'node_modules'))) run('npm', ['ci'], ROOT);
  }
  if (opts.servers.includes('weir')) {
    if (opts.build) run('npm', ['run', 'build'], ROOT);
    if (!existsSync(join(ROOT, 'dist', 'index.js')))
      fail('dist/index.js is missing: run `npm run build` at the repo root');
  }
  if (opts.servers.includes('fastify') && !existsSync(join(BENCH_DIR, 'node_modules'))) {
    run('npm', [existsSync(join(BENCH_DIR, 'package-lock.json')) ? 'ci' : 'install'], BENCH_DIR);
  }
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
  run('git', ['worktree', 'add', '--detach', dir, sha], ROOT);
  baseTree.registered = true;
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  run('npm', ['run', 'build'], dir);
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
async function checkResponses(name, port) {
  for (const route of opts.routes) {
    const res = await get(port, `/${route}`);
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

function startWeirServer(name, port, pin, log) {
  return startServer({
    name: `${name} server`,
    argv: [...pin.server, process.execPath, serverFile(name)],
    env: { PORT: String(port), NODE_ENV: 'production' },
    port,
    probe: () => get(port, `/${opts.routes[0]}`),
    log,
  });
}

// ---------------------------------------------------------------------------------------------------- wrk

function wrkArgs(port, route, seconds) {
  return ['-t1', `-c${opts.connections}`, `-d${seconds}s`, '--latency', `http://${HOST}:${port}/${route}`];
}

/** wrk pinned to its core on `route`, bounded in time; with `serverPid`, the CPU of the server, wrk and core 0. */
const runWrk = (pin, port, route, seconds, serverPid) =>
  measureWrk([...pin.wrk, 'wrk', ...wrkArgs(port, route, seconds)], seconds, serverPid);

// ------------------------------------------------------------------------------------------------- report

/** The machine's facts, with fastify's version (before the weir commit, as always in summary.json). */
function benchFacts() {
  let fastify = 'n/a';
  try {
    fastify = JSON.parse(
      readFileSync(join(BENCH_DIR, 'node_modules', 'fastify', 'package.json'), 'utf8'),
    ).version;
  } catch {
    // not installed
  }
  const { commit, ...facts } = machineFacts();
  return { ...facts, fastify, commit };
}

function writeReport(summary) {
  const { facts, results, order, pin, rawDir } = summary;
  // weir's req/s over another server's, round by round: the servers of one round ran minutes apart at
  // most, so these ratios cancel slow drift of the machine.
  const roundRatios = (route, other) =>
    results[route].weir.map((w) => w.rps / results[route][other].find((r) => r.round === w.round).rps);
  const pairedMedian = (route, other) => median(roundRatios(route, other));
  // The same on req/s ÷ the server's share of core 0 (rounds without CPU data are left out).
  const perCpu = (r) => (r.cpu?.server > 0 ? r.rps / (r.cpu.server / 100) : undefined);
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
  const { p, row, write } = markdown('bench');
  const ratioHeads = ratioCols.map(([, label]) => `ratio vs ${label}`);
  const ratioAligns = ratioCols.map(() => '---:');
  const wrkExample =
    `${pin.wrk.join(' ')} wrk ${wrkArgs(opts.port, '<route>', opts.duration).join(' ')}`.trim();
  const serverExample = `${pin.server.join(' ')} node servers/<server>.mjs`.trim();

  p('# weir HTTP benchmark results');
  p();
  p(
    'Generated by `bench/run.mjs`; do not edit by hand, re-run it. See `bench/README.md` for what is measured and how.',
  );
  p();
  machineAndCommand(p, summary, {
    tools: [['fastify', facts.fastify]],
    more: facts.base
      ? [
          [
            LABEL.base,
            `commit ${facts.base.sha.slice(0, 12)} (\`--base ${facts.base.rev}\`) "${facts.base.subject.replace(/\|/g, '\\|')}", checked out in a temporary git worktree and built there with its own \`npm run build\``,
          ],
        ]
      : [],
  });
  p('which ran, per server and route:');
  p();
  p('```sh');
  p(`PORT=${opts.port} NODE_ENV=production ${serverExample}   # one process, in bench/`);
  if (hasBase)
    p(`#   (${LABEL.base}: servers/.weir-base.mjs, servers/weir.mjs importing the worktree's dist/index.js)`);
  if (opts.warmup > 0)
    p(`${wrkExample.replace(`-d${opts.duration}s`, `-d${opts.warmup}s`)}   # warm-up, discarded`);
  p(`${wrkExample}   # measured`);
  p('```');
  p();
  p('## Method');
  p();
  p(
    `- Each server is **one Node process** ${pin.pinned ? 'pinned to **core 0**' : '(unpinned: one core only)'}; the load generator is **wrk, one thread, ${opts.connections} keep-alive connections**, ${pin.pinned ? 'pinned to **core 1**' : 'unpinned'}, over loopback to ${HOST}:${opts.port}.`,
  );
  p(
    `- Per server: start it, wait until it answers, check each route's response (200, content type, body, \`Server\`, \`Date\`, \`Content-Length\`), then per route a **${opts.warmup} s warm-up** (discarded; lets V8 optimise) and a **${opts.duration} s measured run**; then the server is killed (SIGTERM by PID). A fresh process per server per round.`,
  );
  p(
    `- **${opts.rounds} round(s)**; the server order rotates every round (${order.map((o, i) => `round ${i + 1}: ${o.map((s) => LABEL[s]).join(' → ')}`).join('; ')}) so drift of the machine does not favour one server.`,
  );
  p(
    "- Reported: the **median round** per server/route by req/s (for an even count, the lower middle one), with that round's p50/p99 latency from wrk's `--latency` distribution (converted to ms). Ratios divide req/s. The per-round numbers are listed below each table, with the spread (max−min)/median.",
  );
  p(
    "- Handlers: weir returns a string / a fresh object from `app.get()` handlers; fastify 5 returns the same from `app.get()` with the logger off and `server` (and the text content type) set by `reply.header()`; node:http is a bare `createServer` listener that checks `req.url` and does `writeHead(200, {content-type, content-length, server, date})` + `end()`, with a fresh `JSON.stringify` per `/json` request. `Date` is a once-a-second cached string everywhere (weir's ticker, node:http's own `sendDate` for fastify, a 1 s interval in the node:http baseline).",
  );
  if (hasBase)
    p(
      `- **Before/after**: \`${LABEL.base}\` is weir at commit ${facts.base.short} (\`--base ${facts.base.rev}\`), built in a temporary git worktree and served by the same server file as \`weir\` (this tree's build), importing that build instead. It takes part in the rotation like any server. Below each table, weir ÷ ${LABEL.base} round by round: the two ran minutes apart in each round, so these paired ratios are the before/after number to read; the CPU-normalised ones correct for a round where one of them lost part of its core. The verdict calls weir faster or slower than ${LABEL.base} only when every per-round ratio, plain and CPU-normalised, is on that side of 1.`,
    );
  p();

  const verdicts = [];
  for (const route of opts.routes) {
    p(`## /${route}`);
    p();
    row(['server', 'req/s', 'p50 ms', 'p99 ms', ...ratioHeads]);
    row(['---', '---:', '---:', '---:', ...ratioAligns]);
    const med = {};
    for (const server of opts.servers) med[server] = medianRound(results[route][server]);
    for (const server of opts.servers) {
      const m = med[server];
      const ratios = ratioCols.map(([other]) => (med[other] ? fmtRatio(m.rps / med[other].rps) : 'n/a'));
      row([LABEL[server], fmtInt(m.rps), fmtMs(m.p50), fmtMs(m.p99), ...ratios]);
    }
    p();
    if (hasBase && med.weir) {
      const ratios = roundRatios(route, 'base');
      const cpuRatios = roundCpuRatios(route, 'base');
      p(
        `**weir vs ${LABEL.base}**, per-round ratios of req/s, round by round: weir ÷ ${LABEL.base} ${ratios.map((r) => r.toFixed(2)).join(', ')} (median ${fmtRatio(median(ratios))})${cpuRatios.length > 0 ? `; normalised by each one's CPU share: ${cpuRatios.map((r) => r.toFixed(2)).join(', ')} (median ${fmtRatio(median(cpuRatios))})` : ''}.`,
      );
      p();
    }
    const paired = [];
    for (const [other, label] of [
      ['fastify', 'fastify'],
      ['node', 'node:http'],
    ]) {
      if (!med.weir || !med[other]) continue;
      const ratios = roundRatios(route, other);
      paired.push(
        `weir ÷ ${label} ${ratios.map((r) => r.toFixed(2)).join(', ')} (median ${fmtRatio(median(ratios))})`,
      );
    }
    if (paired.length > 0) {
      p(`Per-round ratios of req/s, round by round: ${paired.join('; ')}.`);
      p();
    }
    const eff = {};
    for (const server of opts.servers) {
      const per = results[route][server]
        .filter((r) => r.cpu?.server > 0)
        .map((r) => r.rps / (r.cpu.server / 100));
      eff[server] = per.length > 0 ? median(per) : undefined;
    }
    if (opts.servers.every((server) => eff[server] !== undefined)) {
      p(
        'Normalised by the CPU the server process actually got (median over rounds of req/s ÷ its share of core 0): less sensitive to other load on the machine, but blind to a server that cannot keep its core busy.',
      );
      p();
      row(['server', 'server CPU % (median)', 'req per server CPU-second', ...ratioHeads]);
      row(['---', '---:', '---:', ...ratioAligns]);
      for (const server of opts.servers) {
        const cpu = median(results[route][server].map((r) => r.cpu?.server ?? 0));
        const ratios = ratioCols.map(([other]) => (eff[other] ? fmtRatio(eff[server] / eff[other]) : 'n/a'));
        row([LABEL[server], fmtPct(cpu), fmtInt(eff[server]), ...ratios]);
      }
      p();
    }
    p('<details><summary>every round</summary>');
    p();
    p(
      '| server | round | req/s | p50 ms | p99 ms | server CPU | other load on core 0 | steal on core 0 | wrk CPU | socket errors | non-2xx |',
    );
    p('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const server of opts.servers) {
      for (const r of results[route][server]) {
        const c = r.cpu ?? {};
        p(
          `| ${LABEL[server]} | ${r.round} | ${fmtInt(r.rps)} | ${fmtMs(r.p50)} | ${fmtMs(r.p99)} | ${fmtPct(c.server)} | ${fmtPct(c.otherCore0)} | ${fmtPct(c.stealCore0)} | ${fmtPct(c.wrk)} | ${r.socketErrors} | ${r.non2xx} |`,
        );
      }
    }
    p();
    const spreads = opts.servers.map((server) => {
      const rps = results[route][server].map((r) => r.rps);
      return `${LABEL[server]} ${(((Math.max(...rps) - Math.min(...rps)) / median(rps)) * 100).toFixed(1)} %`;
    });
    p(`Spread of req/s across rounds, (max−min)/median: ${spreads.join(', ')}.`);
    p();
    p('</details>');
    p();
    if (med.weir) {
      if (hasBase) {
        const ratios = roundRatios(route, 'base');
        const cpuRatios = roundCpuRatios(route, 'base');
        const all = [...ratios, ...cpuRatios];
        const call = all.every((r) => r > 1)
          ? 'faster than'
          : all.every((r) => r < 1)
            ? '**slower** than'
            : 'not clearly different from';
        verdicts.push(
          `/${route}: weir is ${call} ${LABEL.base} (${fmtRatio(med.weir.rps / med.base.rps)} median rounds; per-round ratios ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}, median ${fmtRatio(median(ratios))}${cpuRatios.length > 0 ? `; CPU-normalised ${Math.min(...cpuRatios).toFixed(2)}–${Math.max(...cpuRatios).toFixed(2)}, median ${fmtRatio(median(cpuRatios))}` : ''}).`,
        );
      }
      if (med.fastify) {
        const r = med.weir.rps / med.fastify.rps;
        verdicts.push(
          `/${route}: weir is ${r >= 1 ? 'at or above' : '**below**'} fastify (${fmtRatio(r)} median rounds; ${fmtRatio(pairedMedian(route, 'fastify'))} median of per-round ratios).`,
        );
      }
      if (med.node) {
        const r = med.weir.rps / med.node.rps;
        verdicts.push(
          `/${route}: weir is ${r >= 0.9 ? 'at or above' : '**below**'} 0.9× node:http (${fmtRatio(r)} median rounds; ${fmtRatio(pairedMedian(route, 'node'))} median of per-round ratios).`,
        );
      }
    }
  }
  if (verdicts.length > 0) {
    p('## Verdict');
    p();
    for (const v of verdicts) p(`- ${v}`);
    p();
  }

  const errors = [];
  for (const route of opts.routes)
    for (const server of opts.servers)
      for (const r of results[route][server])
        if (r.socketErrors > 0 || r.non2xx > 0)
          errors.push(
            `${LABEL[server]} /${route} round ${r.round}: ${r.socketErrorText || ''} ${r.non2xx ? `non-2xx ${r.non2xx}` : ''}`.trim(),
          );

  p('## Caveats');
  p();
  p(
    `- **Loopback, ${facts.nproc} cores, one process per server.** The load generator shares the machine (its own core, but the same caches, memory bus and kernel); the network stack is loopback, so per-request syscall and parser costs dominate and a real NIC would change the absolute numbers. No cluster / multi-process mode was used for anyone.`,
  );
  const wrkCpu = Math.max(
    ...opts.routes.flatMap((route) =>
      opts.servers.flatMap((server) => results[route][server].map((r) => r.cpu?.wrk ?? 0)),
    ),
  );
  p(
    wrkCpu >= 90
      ? `- **wrk may have been the limit**: it used up to ${fmtPct(wrkCpu)} of its core, so the fastest server may be understated and ratios against it flattered; use fewer connections or a faster machine.`
      : `- wrk was not the limit: it used at most ${fmtPct(wrkCpu)} of its core, while the servers ran near 100 % of theirs.`,
  );
  p(
    '- These are hello-world routes: they measure the per-request overhead of each stack (routing, context, header building, serialisation), not the cost of real handlers, body parsing or middleware.',
  );
  p(
    '- A shared or virtualised machine drifts; look at the per-round tables and their spread before reading anything into differences of a few percent.',
  );
  const starved = [];
  for (const route of opts.routes)
    for (const server of opts.servers)
      for (const r of results[route][server])
        if ((r.cpu?.otherCore0 ?? 0) >= 10 || (r.cpu?.stealCore0 ?? 0) >= 10)
          starved.push(
            `${LABEL[server]} /${route} round ${r.round} (other ${fmtPct(r.cpu.otherCore0)}, steal ${fmtPct(r.cpu.stealCore0)})`,
          );
  if (starved.length > 0) {
    p(
      `- **Contention**: in ${starved.length} measured run(s) other processes or the hypervisor took 10 % or more of the server's core: ${starved.join('; ')}. Those rounds understate that server; the median and the CPU-normalised table soften this but do not remove it.`,
    );
  } else {
    p('- No measured run lost 10 % or more of core 0 to other processes or to steal time.');
  }
  if (errors.length > 0) p(`- **wrk reported errors**: ${errors.join('; ')}.`);
  else p('- wrk reported no socket errors and no non-2xx responses in any measured run.');
  p();
  p(`Raw wrk outputs (warm-ups included) were written to \`${relative(BENCH_DIR, rawDir)}/\` (gitignored).`);
  p();
  write(opts.out);
}

// ----------------------------------------------------------------------------------------------------- main

/** Rewrites the report from a saved summary.json, with that run's options (for changes to the report's form). */
function rerender(file) {
  const summary = readSummary(file);
  Object.assign(opts, summary.opts, { out: opts.out });
  if (summary.facts.base) LABEL.base = `weir@${summary.facts.base.short}`;
  writeReport(summary);
  console.log(`bench: rewrote ${relative(process.cwd(), opts.out) || opts.out} from ${file}`);
}

async function main() {
  if (flags.rerender !== undefined) return rerender(flags.rerender);
  const command = invocation(import.meta.url, 'bench', 'BENCH_');
  // Every way out (fail(), a signal, an exception, the normal end) kills the server and wrk, and removes
  // the --base worktree.
  cleanupOnExit(removeBase);
  const base = opts.base !== undefined ? resolveBase(opts.base) : undefined;
  prepare();
  if (base) prepareBase(base);
  const pin = pinning();
  const facts = { ...benchFacts(), base };
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const rawDir = join(BENCH_DIR, 'results', 'raw', stamp);
  mkdirSync(rawDir, { recursive: true });
  const loadBefore = loadavg();

  const perRoute = opts.warmup + opts.duration;
  const estimate = opts.rounds * opts.servers.length * (opts.routes.length * perRoute + 2);
  console.log(
    `bench: ${opts.servers.map((s) => LABEL[s]).join(', ')} × /${opts.routes.join(', /')} × ${opts.rounds} round(s): ${opts.warmup} s warm-up + ${opts.duration} s measured, -c${opts.connections}; about ${Math.ceil(estimate / 60)} min`,
  );

  const results = {};
  for (const route of opts.routes) {
    results[route] = {};
    for (const server of opts.servers) results[route][server] = [];
  }
  const order = [];
  const labelWidth = Math.max(...opts.servers.map((s) => LABEL[s].length));

  try {
    for (let round = 1; round <= opts.rounds; round++) {
      const servers = rotation(opts.servers, round);
      order.push(servers);
      for (const server of servers) {
        const log = [];
        const active = await startWeirServer(server, opts.port, pin, log);
        try {
          await checkResponses(server, opts.port);
          for (const route of opts.routes) {
            const base = join(rawDir, `r${round}-${server}-${route}`);
            if (opts.warmup > 0) {
              const warm = await runWrk(pin, opts.port, route, opts.warmup);
              writeFileSync(`${base}-warmup.txt`, `$ ${warm.command}\n${warm.text}`);
            }
            const measured = await runWrk(pin, opts.port, route, opts.duration, active.child.pid);
            const cpu = measured.cpu ?? {};
            writeFileSync(
              `${base}.txt`,
              `$ ${measured.command}\n${measured.text}\n# CPU, % of one core: ${JSON.stringify(cpu)}\n`,
            );
            if (active.isDead()) throw new Error(`${server} server died during the run:\n${log.join('')}`);
            const parsed = parseWrk(measured.text);
            results[route][server].push({ round, ...parsed, cpu });
            console.log(
              `bench: round ${round} ${LABEL[server].padEnd(labelWidth)} /${route.padEnd(9)} ${fmtInt(parsed.rps).padStart(8)} req/s  p50 ${fmtMs(parsed.p50)} ms  p99 ${fmtMs(parsed.p99)} ms  server CPU ${fmtPct(cpu.server)}  other on core 0 ${fmtPct(cpu.otherCore0)}  steal ${fmtPct(cpu.stealCore0)}${parsed.socketErrors || parsed.non2xx ? `  (errors: ${parsed.socketErrorText} non-2xx ${parsed.non2xx})` : ''}`,
            );
          }
        } finally {
          await stopServer(active);
        }
      }
    }
  } catch (err) {
    killLive();
    fail(err instanceof Error ? err.message : String(err));
  }

  const finishedAt = new Date();
  const summary = { opts, facts, startedAt, finishedAt, results, order, pin, loadBefore, rawDir, command };
  writeFileSync(join(rawDir, 'summary.json'), JSON.stringify(summary, null, 2));
  removeBase();
  writeReport(summary);
  console.log(
    `bench: wrote ${relative(process.cwd(), opts.out) || opts.out} and ${relative(process.cwd(), rawDir)}/`,
  );
  console.log(readFileSync(opts.out, 'utf8'));
}

await main();
