#!/usr/bin/env node
// Start-up of weir's reference service as its users start it: the time from spawning `npm start` (the real
// npm command) to the first 200 of GET /db, on SQLite, and the same for `node scripts/start.mjs` alone, which
// is what npm runs, so that the difference is npm's own share. Three cases:
//   cold    an empty data folder (the service creates and seeds its database) and an empty
//           WEIR_BUILD_DIR (scripts/start.mjs bundles the service first);
//   build   an existing build, no data;
//   steady  an existing build and data folder: every start after the first.
// Each case --runs times for each command, the commands' order alternating run by run; median and max, and
// the resident set of the service (and of the whole process tree, npm's included) --settle ms after the
// first answer. Every folder is a temporary one (DATABASE_URL=sqlite:<tmp>/weir.db,
// QUEUE_URL=sqlite:<tmp>/queue.db, WEIR_BUILD_DIR=<tmp>/build). Each start is stopped by PID: SIGTERM to
// the service's node process, SIGKILL to whatever of its tree is left 10 s later. Traffic goes to
// 127.0.0.1 only.
//
//   npm run bench:startup              (about 2 minutes; writes bench/RESULTS-startup.md)
//   node bench/startup.mjs --runs 2 --cases steady --out /tmp/startup.md
//
// See bench/README.md.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  beginRun,
  cleanupOnExit,
  commandLine,
  filesystemOf,
  finishRun,
  fmtInt,
  fmtMiB,
  get,
  HOST,
  int,
  list,
  machineFacts,
  option,
  outOption,
  output,
  portAnswers,
  prepareNpmStart,
  ROOT,
  rerenderOption,
  rerenderReport,
  rotation,
  rssMiB,
  runStep,
  sleep,
  waitForQuiet,
} from './lib.mjs';
import { servicePid, signal, stop, tree } from './startup/processes.mjs';
import { CASE, COMMAND, POLL_MS, writeReport } from './startup/report.mjs';

const ALL_CASES = ['cold', 'build', 'steady'];
const ALL_COMMANDS = ['npm', 'node'];

// ---------------------------------------------------------------------------------------------- options

const runner = {
  ...commandLine({
    name: 'bench:startup',
    usage: 'Usage: node bench/startup.mjs [options]     (or: npm run bench:startup -- [options])\n',
    columns: [22, 62],
    options: {
      runs: option('<n>', 'starts per case and command; median and max reported', '5', int(1, 100)),
      cases: option('<list>', '', undefined, list(ALL_CASES), {
        line: `  --cases <list>        ${'comma list of cold,build,steady'.padEnd(61)} default all`,
      }),
      commands: option('<list>', '', undefined, list(ALL_COMMANDS), {
        line: `  --commands <list>     ${'comma list of npm (npm start), node (node scripts/start.mjs)'.padEnd(61)} default all`,
      }),
      settle: option('<ms>', 'wait after the first 200 before reading the RSS', '1000', int(0, 60_000)),
      timeout: option('<s>', 'longest wait for the first 200 of one start', '60', int(1, 600)),
      port: option('<n>', 'port the service listens on (127.0.0.1)', '3140', int(1024, 65535)),
      'no-build': option('', 'skip `npm run build` (dist/ must be newer than src/)', undefined, (v) => !v, {
        key: 'build',
      }),
      'wait-others': option('<s>', 'longest wait for another bench runner or test run', '600', int(0, 3600)),
      out: outOption('the report', 'startup'),
      rerender: rerenderOption("a run's results/raw/startup-<timestamp>/summary.json"),
    },
    notes:
      '\nCases: cold = an empty data folder and an empty WEIR_BUILD_DIR; build = an existing build, no data;\nsteady = an existing build and data folder. Every folder is a temporary one.\n',
  }),
  script: 'startup',
};
const { flags, opts, fail } = runner;

// --------------------------------------------------------------------------------------------------- runs

/** Where the run's folders go; removed at exit. */
let tmp;
/** The top process of the start under way, whose whole tree is SIGKILLed if the runner exits early. */
let current;

/** SIGKILL, by PID, to every process of the start under way (the runner is exiting). */
function killCurrent() {
  if (current === undefined) return;
  for (const pid of tree(current.pid)) signal(pid, 'SIGKILL');
}

/**
 * The environment of a start: the runner's, without what npm puts there when it runs this runner (npm_*,
 * INIT_CWD) and without NODE_ENV, so that both commands start the service as they would from a shell;
 * then PORT, HOST, the two SQLite files of `data`, CACHE_URL=memory: (the service's defaults, spelled out)
 * and WEIR_BUILD_DIR=`build`.
 */
function startEnv(data, build) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('npm_') && name !== 'INIT_CWD' && name !== 'NODE_ENV',
    ),
  );
  return {
    ...env,
    PORT: String(opts.port),
    HOST,
    DATABASE_URL: `sqlite:${join(data, 'weir.db')}`,
    QUEUE_URL: `sqlite:${join(data, 'queue.db')}`,
    CACHE_URL: 'memory:',
    WEIR_BUILD_DIR: build,
  };
}

/**
 * One start of `command` (npm, node) in the repo root on the folders `data` and `build`: the ms from spawn
 * to the end of the first 200 answer of GET /db (asked every POLL_MS, each request bounded), then, --settle
 * ms later, the RSS of the service's node process and of its whole tree (npm and sh included), in MiB;
 * then the start is stopped. Throws if the service exits, or does not answer within --timeout s.
 */
async function startOnce(command, data, build) {
  if (await portAnswers(opts.port))
    throw new Error(`something already listens on ${HOST}:${opts.port}; pick another --port`);
  const argv = command === 'npm' ? ['npm', 'start'] : ['node', 'scripts/start.mjs'];
  const log = [];
  const t0 = performance.now();
  const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: startEnv(data, build) });
  current = child;
  child.stdout.on('data', (d) => log.push(String(d)));
  child.stderr.on('data', (d) => log.push(String(d)));
  let exited;
  child.once('exit', (code, sig) => {
    exited = code ?? sig;
  });
  child.once('error', (err) => {
    exited = err.message;
  });
  let ms;
  let service;
  try {
    const deadline = t0 + opts.timeout * 1000;
    for (;;) {
      if (exited !== undefined) throw new Error(`${COMMAND[command]} exited (${exited}):\n${log.join('')}`);
      try {
        const res = await get(opts.port, '/db', 5000);
        if (res.status === 200) {
          ms = performance.now() - t0;
          break;
        }
      } catch {
        // not listening yet
      }
      if (performance.now() > deadline)
        throw new Error(`${COMMAND[command]} did not answer 200 within ${opts.timeout} s:\n${log.join('')}`);
      await sleep(POLL_MS);
    }
    await sleep(opts.settle);
    service = servicePid(child.pid);
    const all = tree(child.pid).map(rssMiB);
    return {
      ms,
      rssMiB: service === undefined ? undefined : rssMiB(service),
      treeRssMiB: all.every((x) => x !== undefined) ? all.reduce((a, b) => a + b, 0) : undefined,
      processes: all.length,
      killed: await stop(child, service),
    };
  } catch (err) {
    await stop(child, service ?? servicePid(child.pid)).catch(() => {});
    throw err;
  } finally {
    current = undefined;
  }
}

/** A fresh empty folder under the run's temporary folder. */
const freshDir = (name) => mkdtempSync(join(tmp, `${name}-`));

/**
 * Readies the shared folders: `build`, the service compiled into it (what a first start does), and
 * `steady`, a data folder that one start (not measured) created and seeded.
 */
async function prepareShared() {
  const build = join(tmp, 'build');
  const steady = join(tmp, 'steady');
  mkdirSync(build);
  mkdirSync(steady);
  const before = process.env.WEIR_BUILD_DIR;
  process.env.WEIR_BUILD_DIR = build;
  try {
    await prepareNpmStart(runner);
  } finally {
    if (before === undefined) delete process.env.WEIR_BUILD_DIR;
    else process.env.WEIR_BUILD_DIR = before;
  }
  if (opts.cases.includes('steady')) {
    const first = await startOnce('node', steady, build);
    console.log(`bench:startup: seeded the steady data folder (that start took ${fmtInt(first.ms)} ms)`);
  }
  return { build, steady };
}

/** The newest modification time (ms) of the files under `dir`. */
function newest(dir) {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile())
      max = Math.max(max, statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  return max;
}

// ----------------------------------------------------------------------------------------------------- main

async function main() {
  if (flags.rerender !== undefined) return rerenderReport(runner, (summary) => writeReport(summary, opts));
  cleanupOnExit(() => {
    killCurrent();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });
  if (process.platform !== 'linux') fail('needs Linux (/proc)');
  try {
    if (opts.build) runStep(runner.name, 'npm', ['run', 'build', '--silent']);
  } catch (err) {
    fail(err.message);
  }
  const dist = join(ROOT, 'dist', 'index.js');
  if (!existsSync(dist) || newest(join(ROOT, 'src')) > statSync(dist).mtimeMs)
    fail('dist/ is missing or older than src/: run `npm run build` (or drop --no-build)');
  let waitedSeconds = 0;
  try {
    if (opts.waitOthers > 0)
      waitedSeconds = await waitForQuiet({ name: runner.name, seconds: opts.waitOthers });
  } catch (err) {
    fail(err.message);
  }
  tmp = mkdtempSync(join(tmpdir(), 'weir-bench-startup-'));
  const facts = {
    ...machineFacts(),
    npm: output('npm', ['--version']),
    nodeOnPath: output('node', ['--version']),
    tmp: tmpdir(),
    filesystem: filesystemOf(tmpdir()),
  };
  const run = beginRun(runner, { facts, pin: { server: [], wrk: [], pinned: false } });
  const starts = [];
  try {
    const shared = await prepareShared();
    const perRun = opts.cases.length * opts.commands.length;
    console.log(
      `bench:startup: ${opts.cases.join(', ')} × ${opts.commands.map((c) => COMMAND[c]).join(', ')} × ${opts.runs} run(s): ${perRun * opts.runs} starts`,
    );
    for (let i = 1; i <= opts.runs; i++)
      for (const c of opts.cases)
        for (const command of rotation(opts.commands, i)) {
          const data = c === 'steady' ? shared.steady : freshDir('data');
          const build = c === 'cold' ? freshDir('build') : shared.build;
          const load = loadavg()[0];
          const result = await startOnce(command, data, build);
          if (c !== 'steady') rmSync(data, { recursive: true, force: true });
          if (c === 'cold') rmSync(build, { recursive: true, force: true });
          starts.push({ run: i, case: c, command, load, ...result });
          console.log(
            `bench:startup: run ${i} ${CASE[c].padEnd(24)} ${COMMAND[command].padEnd(22)} ${fmtInt(result.ms).padStart(5)} ms  service ${fmtMiB(result.rssMiB)} MiB  tree ${fmtMiB(result.treeRssMiB)} MiB${result.killed ? '  (SIGKILL)' : ''}`,
          );
        }
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  finishRun(runner, run, { starts, waitedSeconds }, (summary) => writeReport(summary, opts));
}

await main();
