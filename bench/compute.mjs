#!/usr/bin/env node
// Why runInWorker matters: the latency of GET /plaintext while CPU-heavy GET /compute requests keep
// arriving, with the computation on weir's worker pool (runInWorker) versus inline on the event loop.
//
//   node bench/compute.mjs                       (about 3½ minutes; writes bench/RESULTS-compute.md)
//   node bench/compute.mjs --rounds 3 --duration 5 --out /tmp/compute.md
//
// One weir server (servers/weir-compute.mjs, COMPUTE_MODE=worker|inline), NOT pinned: its threads float
// over both cores, so the worker thread can use the core the event loop is not on. Two light load
// generators, both pinned to core 1: wrk (one thread, 16 connections, each pausing --pace ms between a
// response and its next request) on /plaintext, and bench/compute-load.mjs sending /compute?n=1000000
// at a fixed rate (open loop). Three modes, alternated over the rounds with a fresh server each time: no
// compute load (the reference), compute on the worker pool, compute inline. Traffic goes to 127.0.0.1 only.
//
// See bench/README.md.

import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import {
  BENCH_DIR,
  beginRun,
  cleanupOnExit,
  commandLine,
  cpuWindow,
  eachRound,
  finishRun,
  fmtInt,
  fmtPct,
  fmtRatios,
  get as getFrom,
  have,
  int,
  startServer as launch,
  list,
  machineAndCommand,
  machineFacts,
  markdown,
  median,
  option,
  parseWrk,
  ROOT,
  rerenderOption,
  rerenderReport,
  runBounded,
  runStep,
  sampleWindow,
  startWrk,
  statTicks,
  stopServer,
  string,
  ticks,
  wrkCommand,
} from './lib.mjs';

const SERVER_FILE = join('servers', 'weir-compute.mjs');

const ALL_MODES = ['baseline', 'worker', 'inline'];
const LABEL = { baseline: 'no compute load', worker: 'worker (runInWorker)', inline: 'inline (event loop)' };

// ---------------------------------------------------------------------------------------------- options

const runner = {
  ...commandLine({
    name: 'bench:compute',
    usage: 'Usage: node bench/compute.mjs [options]\n\nOptions:',
    columns: [22, 59],
    options: {
      rounds: option('<n>', '', '5', int(1, 100), {
        line: '  --rounds <n>          rounds; each mode runs once per round, the order rotated    default 5',
      }),
      duration: option('<s>', 'measured run per mode, seconds', '10', int(2, 600)),
      warmup: option('<s>', 'discarded warm-up per mode, same load (0 = none)', '3', int(0, 600)),
      modes: option('<list>', '', undefined, list(ALL_MODES), {
        line: `  --modes <list>        comma list of ${ALL_MODES.join(',')}                    default all`,
      }),
      rate: option('<n>', '/compute requests per second (open loop)', '20', int(1, 1000)),
      n: option(
        '<n>',
        'the n of /compute?n= (primes ≤ n; 1,000,000 is ~10–20 ms)',
        '1000000',
        int(1, 10_000_000),
      ),
      'max-outstanding': option(
        '<n>',
        '/compute requests in flight at most (else a tick is skipped)',
        '4',
        int(1, 64),
      ),
      connections: option('<n>', 'wrk connections on /plaintext', '16', int(1, 1000)),
      pace: option('<ms>', 'wrk: pause per connection between a response and the next', '10', int(0, 1000), {
        line: `  --pace <ms>           wrk: pause per connection between a response and the next
                        request (0 = none: wrk as fast as it can, saturating)      default 10`,
      }),
      'pin-server': option(
        '',
        "pin the server to core 0 (its worker thread then shares the event loop's core)",
        undefined,
        Boolean,
      ),
      port: option('<n>', 'port on 127.0.0.1', '3100', int(1024, 65535)),
      'no-build': option('', 'skip `npm run build` at the repo root', undefined, (value) => !value, {
        key: 'build',
      }),
      out: option('<file>', '', join(BENCH_DIR, 'RESULTS-compute.md'), string, {
        line: '  --out <file>          where to write the report                 default bench/RESULTS-compute.md',
      }),
      rerender: rerenderOption("a run's results/raw/compute-<timestamp>/summary.json"),
    },
  }),
  script: 'compute',
};
const { flags, opts, fail } = runner;

function prepare() {
  if (!have('wrk')) fail('wrk is not installed (`npm run bench` installs it, or `apt-get install wrk`)');
  if (!have('taskset')) fail('taskset (util-linux) is required to pin the load generators to core 1');
  if (availableParallelism() < 2) fail('needs at least 2 cores: the load generators get core 1');
  if (!existsSync(join(ROOT, 'node_modules'))) fail('run `npm ci` at the repo root first');
  try {
    if (opts.build) runStep('bench:compute', 'npm', ['run', 'build']);
  } catch (err) {
    fail(err.message);
  }
  if (!existsSync(join(ROOT, 'dist', 'index.js')))
    fail('dist/index.js is missing: run `npm run build` at the repo root');
}

const LOAD_PIN = ['taskset', '-c', '1'];
const serverPin = () => (opts.pinServer ? ['taskset', '-c', '0'] : []);

// ------------------------------------------------------------------------------------------------ server

const get = (path) => getFrom(opts.port, path, 5000);

async function startServer(mode) {
  // The no-load reference runs the worker build of the server; no /compute arrives, so its pool never starts.
  const computeMode = mode === 'inline' ? 'inline' : 'worker';
  const server = await launch({
    name: `server (${computeMode})`,
    argv: [...serverPin(), process.execPath, SERVER_FILE],
    env: { PORT: String(opts.port), COMPUTE_MODE: computeMode, NODE_ENV: 'production' },
    port: opts.port,
    probe: () => get('/plaintext'),
  });
  // Both routes answer as expected, and /compute runs where this mode says.
  const plain = await get('/plaintext');
  if (plain.status !== 200 || plain.body !== 'Hello, World!')
    throw new Error(`/plaintext answered ${plain.status} ${JSON.stringify(plain.body)}`);
  const compute = await get('/compute?n=1000');
  let parsed;
  try {
    parsed = JSON.parse(compute.body);
  } catch {
    parsed = undefined;
  }
  if (compute.status !== 200 || parsed?.primes !== 168 || parsed?.mode !== computeMode)
    throw new Error(
      `/compute?n=1000 answered ${compute.status} ${compute.body} (want 168 primes, ${computeMode})`,
    );
  return server;
}

// ------------------------------------------------------------------------------------------------- loads

/** wrk's command line on /plaintext, pinned to core 1, with the pacing `script` if there is one. */
const wrkArgs = (seconds, script) => wrkCommand({ wrk: LOAD_PIN }, opts, seconds, '/plaintext', script);

/**
 * Starts bench/compute-load.mjs pinned to core 1; `ready` resolves when it is about to send its first
 * request, `done` with its JSON summary. Killed if it overruns by 30 s.
 */
function runComputeLoad(seconds) {
  const args = [...LOAD_PIN, process.execPath, join(BENCH_DIR, 'compute-load.mjs')];
  for (const [flag, value] of Object.entries({
    port: opts.port,
    rate: opts.rate,
    duration: seconds,
    n: opts.n,
  }))
    args.push(`--${flag}`, String(value));
  args.push('--max-outstanding', String(opts.maxOutstanding));
  const load = runBounded(args, seconds, 'compute-load');
  const ready = new Promise((resolve) => {
    let err = '';
    load.child.stderr.on('data', (d) => {
      err += d;
      if (err.includes('ready\n')) resolve();
    });
    load.child.once('exit', resolve);
  });
  const command = args
    .map((a) => (a === process.execPath ? 'node' : a.startsWith(BENCH_DIR) ? relative(BENCH_DIR, a) : a))
    .join(' ');
  return {
    child: load.child,
    ready,
    done: load.done.then(({ stdout }) => ({ command, ...JSON.parse(stdout) })),
  };
}

/** Both loads together for `seconds`: the /compute stream (unless no load), and wrk once it is going. */
async function runLoads(mode, seconds, script, onStart) {
  const compute = mode === 'baseline' ? undefined : runComputeLoad(seconds);
  if (compute) await compute.ready;
  const wrk = startWrk(wrkArgs(seconds, script), seconds);
  const stopSampling = onStart?.(wrk.child, compute?.child);
  try {
    const [w, c] = await Promise.all([wrk.done, compute?.done]);
    return { wrk: w, compute: c, cpu: stopSampling?.() };
  } finally {
    stopSampling?.();
  }
}

// ------------------------------------------------------------------------------------------------ CPU

// From /proc (Linux): how much CPU the server's event-loop thread and its other threads (the worker
// pool, GC, libuv) used, what the load generators took, and the hypervisor's steal, all in % of one core.
function sampler(serverPid) {
  return (wrkChild, computeChild) => {
    const take = () => ({
      at: performance.now(),
      server: ticks(`/proc/${serverPid}/stat`),
      loop: ticks(`/proc/${serverPid}/task/${serverPid}/stat`),
      wrk: ticks(`/proc/${wrkChild.pid}/stat`),
      compute: computeChild ? ticks(`/proc/${computeChild.pid}/stat`) : 0,
      machine: statTicks('cpu'), // all cores
    });
    // From 0.5 s in, every 500 ms, until the loads end (a sample missing a finished generator is dropped).
    const stop = sampleWindow(() => {
      const s = take();
      return s.wrk === undefined || s.compute === undefined ? undefined : s;
    });
    return () => {
      const window = stop();
      if (!window) return undefined;
      const { pct } = cpuWindow(...window);
      const [server, loop, wrk] = [pct('server'), pct('loop'), pct('wrk')];
      const compute = computeChild ? pct('compute') : undefined;
      const busy = pct('machine', 'busy');
      return {
        server,
        loop,
        threads: server !== undefined && loop !== undefined ? server - loop : undefined,
        wrk,
        compute,
        other:
          busy === undefined ? undefined : Math.max(0, busy - (server ?? 0) - (wrk ?? 0) - (compute ?? 0)),
        steal: pct('machine', 'steal'),
      };
    };
  };
}

// ------------------------------------------------------------------------------------------------ report

const fmtMs = (n) => (n === undefined || n === null ? 'n/a' : n < 10 ? n.toFixed(2) : n.toFixed(1));
const fmtX = (n) => (n === undefined ? 'n/a' : `${n.toFixed(1)}×`);

/** Per mode, the median over rounds of every number (each column on its own). */
function medians(runs) {
  const m = (f) => median(runs.map(f));
  return {
    rps: m((r) => r.wrk.rps),
    p50: m((r) => r.wrk.p50),
    p90: m((r) => r.wrk.p90),
    p99: m((r) => r.wrk.p99),
    max: m((r) => r.wrk.max),
    computeRps: m((r) => (r.compute ? r.compute.ok / r.compute.seconds : undefined)),
    computeP50: m((r) => r.compute?.p50),
    computeP99: m((r) => r.compute?.p99),
    server: m((r) => r.cpu?.server),
    loop: m((r) => r.cpu?.loop),
    threads: m((r) => r.cpu?.threads),
    wrk: m((r) => r.cpu?.wrk),
    computeCpu: m((r) => r.cpu?.compute),
    other: m((r) => r.cpu?.other),
    steal: m((r) => r.cpu?.steal),
  };
}

const count503 = (runs) => runs.reduce((sum, r) => sum + (r.compute?.statuses?.[503] ?? 0), 0);

function writeReport(summary) {
  const { opts: o, facts, results, order, rawDir } = summary;
  const { p, table, lines, write } = markdown('bench:compute');
  const med = Object.fromEntries(o.modes.map((mode) => [mode, medians(results[mode])]));
  const script = o.pace > 0 ? 'pace.lua' : undefined;
  const computing = (mode, cell) => (mode === 'baseline' ? '–' : cell(med[mode]));

  lines([
    '# weir compute benchmark results: /plaintext while /compute runs',
    '',
    'Generated by `bench/compute.mjs`; do not edit by hand, re-run it. See `bench/README.md` (section "Compute: runInWorker vs the event loop") for what is measured and how.',
    '',
  ]);
  machineAndCommand(p, summary);
  lines([
    'which ran, per mode and round (in bench/):',
    '',
    '```sh',
    `PORT=${o.port} COMPUTE_MODE=worker|inline NODE_ENV=production ${o.pinServer ? 'taskset -c 0 ' : ''}node servers/weir-compute.mjs${o.pinServer ? '' : '   # not pinned'}`,
    `taskset -c 1 node compute-load.mjs --port ${o.port} --rate ${o.rate} --duration ${o.duration} --n ${o.n} --max-outstanding ${o.maxOutstanding}   # not in the no-load mode`,
    `${wrkArgs(o.duration, script).join(' ')}   # started once compute-load is sending`,
    '```',
    '',
    script
      ? `with \`pace.lua\` holding \`function delay() return ${o.pace} end\`, and before each, the same for ${o.warmup} s as a warm-up, discarded.`
      : `and before each, the same for ${o.warmup} s as a warm-up, discarded.`,
    '',
    '## Method',
    '',
    `- **One weir process** (\`servers/weir-compute.mjs\`) with \`GET /plaintext\` and \`GET /compute?n=\` (counting the primes ≤ n with a sieve, as the reference service's \`/compute\`). With \`COMPUTE_MODE=worker\` the handler awaits \`runInWorker(countPrimes, [n], { signal })\` on weir's pool at its defaults (availableParallelism() − 1 = ${Math.max(1, Number(facts.nproc) - 1)} thread, 32 waiting tasks per thread, then 503); with \`COMPUTE_MODE=inline\` it calls \`countPrimes(n)\` on the event loop.`,
    o.pinServer
      ? "- The server is **pinned to core 0**, worker thread included: it shares the event loop's core, so this run shows what runInWorker gives when there is no spare core. The load generators are pinned to core 1."
      : '- The server is **not pinned**: its threads float over both cores, so the worker thread can run on the core the event loop is not on, as on a real multi-core host. The **load generators are both pinned to core 1** and kept light, so they leave most of the machine to the server.',
    `- **Background load**: \`compute-load.mjs\`, a Node client (keep-alive \`http.Agent\`) sending \`GET /compute?n=${o.n.toLocaleString('en-US')}\` at **${o.rate} req/s, open loop** (each request at its own fixed time, whatever the previous ones did), at most ${o.maxOutstanding} in flight (a tick that finds ${o.maxOutstanding} outstanding is skipped and counted). It records its own latencies (200s only) and status codes; "compute req/s done" is its 200s per second.`,
    `- **Foreground**: wrk, one thread, **${o.connections} keep-alive connections** on \`GET /plaintext\`, ${o.pace > 0 ? `**each connection pausing ${o.pace} ms** between a response and its next request (wrk's \`delay()\` hook), so at most about ${fmtInt((o.connections * 1000) / o.pace)} req/s: a light, steady stream whose latency shows how long a request waits for the event loop, not queueing behind a saturated server` : 'as fast as it can (no pause): the server is saturated, so latency includes queueing'}. Reported from wrk's \`--latency\` output: req/s, p50, p99 and max. wrk starts once the /compute stream is going, and both run for **${o.duration} s**.`,
    `- **Modes**: ${o.modes.map((m) => `**${LABEL[m]}**${m === 'baseline' ? ' (the reference: wrk alone, against the worker build of the server, whose pool never starts)' : ''}`).join(', ')}. Each mode gets a fresh server per round, checked (\`/plaintext\` body, \`/compute?n=1000\` = 168 primes computed in the expected mode), a ${o.warmup} s warm-up under the same load (discarded; lets V8 optimise and starts the worker pool), then the measured run.`,
    `- **${o.rounds} rounds**, the order of the modes rotated every round (${order.map((ms, i) => `${i + 1}: ${ms.join(' → ')}`).join('; ')}). Each cell of the table is the **median over the rounds of that number** (each column on its own, so a row need not be one round); every round is listed below it. 503s are summed over all rounds.`,
    "- CPU is read from `/proc` while the measured run goes, in % of one core: the server process, its event-loop thread (the main thread) and its other threads (the worker pool, GC, libuv), wrk, the compute client, everything else, and the hypervisor's steal, summed over both cores.",
    '',
    '## Results',
    '',
  ]);
  table(
    [
      ['mode', (mode) => LABEL[mode], '---'],
      ['plaintext req/s', (mode) => fmtInt(med[mode].rps)],
      ['p50 ms', (mode) => fmtMs(med[mode].p50)],
      ['p90 ms', (mode) => fmtMs(med[mode].p90)],
      ['p99 ms', (mode) => `**${fmtMs(med[mode].p99)}**`],
      ['max ms', (mode) => fmtMs(med[mode].max)],
      ['compute req/s done', (mode) => computing(mode, (m) => m.computeRps.toFixed(1))],
      [
        'compute p50 / p99 ms',
        (mode) => computing(mode, (m) => `${fmtMs(m.computeP50)} / ${fmtMs(m.computeP99)}`),
      ],
      ['503s', (mode) => computing(mode, () => String(count503(results[mode])))],
    ],
    o.modes,
  );
  p();
  lines(verdicts(med, results));
  lines([
    '## CPU',
    '',
    `Medians over rounds, in % of one core (the machine has ${facts.nproc} cores, so ${Number(facts.nproc) * 100} % in all).`,
    '',
  ]);
  table(
    [
      ['mode', (mode) => LABEL[mode], '---'],
      ['server', (mode) => fmtPct(med[mode].server)],
      ['event-loop thread', (mode) => fmtPct(med[mode].loop)],
      ['other server threads', (mode) => fmtPct(med[mode].threads)],
      ['wrk', (mode) => fmtPct(med[mode].wrk)],
      ['compute client', (mode) => computing(mode, (m) => fmtPct(m.computeCpu))],
      ['other processes', (mode) => fmtPct(med[mode].other)],
      ['steal', (mode) => fmtPct(med[mode].steal)],
    ],
    o.modes,
  );
  lines(['', '<details><summary>every round</summary>', '']);
  // Statuses of the compute stream other than 200 and 503, and its errors.
  const otherStatuses = (c) =>
    Object.entries(c.statuses)
      .filter(([s]) => s !== '200' && s !== '503')
      .reduce((sum, [, n]) => sum + n, 0) + c.errors;
  const compute =
    (cell) =>
    ([, r]) =>
      r.compute ? cell(r.compute) : '–';
  table(
    [
      ['mode', ([mode]) => LABEL[mode], '---'],
      ['round', ([, r]) => String(r.round)],
      ['plaintext req/s', ([, r]) => fmtInt(r.wrk.rps)],
      ['p50 ms', ([, r]) => fmtMs(r.wrk.p50)],
      ['p90 ms', ([, r]) => fmtMs(r.wrk.p90)],
      ['p99 ms', ([, r]) => fmtMs(r.wrk.p99)],
      ['max ms', ([, r]) => fmtMs(r.wrk.max)],
      [
        'compute sent / 200 / 503 / other / skipped',
        compute((c) => `${c.sent} / ${c.ok} / ${c.statuses[503] ?? 0} / ${otherStatuses(c)} / ${c.skipped}`),
      ],
      ['compute p50 / p99 / max ms', compute((c) => `${fmtMs(c.p50)} / ${fmtMs(c.p99)} / ${fmtMs(c.max)}`)],
      ['server CPU', ([, r]) => fmtPct(r.cpu?.server)],
      ['event loop CPU', ([, r]) => fmtPct(r.cpu?.loop)],
      ['steal', ([, r]) => fmtPct(r.cpu?.steal)],
    ],
    o.modes.flatMap((mode) => results[mode].map((r) => [mode, r])),
  );
  const wrkErrors = o.modes.flatMap((m) =>
    results[m].filter((r) => r.wrk.socketErrors > 0 || r.wrk.non2xx > 0),
  );
  const computeTrouble = o.modes.flatMap((m) =>
    results[m].filter((r) => r.compute && (r.compute.ok !== r.compute.sent || r.compute.skipped > 0)),
  );
  lines([
    '',
    '</details>',
    '',
    '## Caveats',
    '',
    `- **Loopback, ${facts.nproc} cores, load generators on the same machine.** wrk and the compute client share core 1 with whatever the server runs there; they are kept light (medians above: wrk ${o.modes.map((m) => fmtPct(med[m].wrk)).join(' / ')}, compute client ${o.modes
      .filter((m) => m !== 'baseline')
      .map((m) => fmtPct(med[m].computeCpu))
      .join(' / ')} of a core). A real deployment would have the clients elsewhere.`,
    "- **Two cores, shared.** With one pool thread, the worker thread and the event loop get a core each only while nothing else wants it: core 1 also runs the load generators, and the kernel sometimes puts the worker thread on the event loop's core, which then waits for a time slice (a few ms) rather than a whole computation. Run with `--pin-server` for the server, worker thread included, on one core, and with `--pace 0` for wrk at full speed (a saturated server, where the worker thread competes with the event loop and wrk for CPU).",
    `- **wrk is closed loop**: each connection waits for its response before pausing and sending the next, so while the event loop is blocked at most ${o.connections} /plaintext requests wait, and requests that would have been sent meanwhile are not (coordinated omission). An open-loop client would show more slow requests in the inline mode, not fewer; the p99 here understates the inline penalty if anything.`,
    `- **A shared, virtualised machine.** The hypervisor's steal (median ${o.modes.map((m) => `${LABEL[m]} ${fmtPct(med[m].steal)}`).join(', ')}, summed over both cores) and other processes vary from run to run, and a stolen time slice lands directly in the tail: compare p99 with steal in the rounds table. p99 over ${o.duration} s rests on the slowest 1 % of roughly ${fmtInt(med[o.modes[0]].rps * o.duration * 0.01)} requests; do not read anything into differences of a millisecond or two, nor into single max values.`,
    wrkErrors.length > 0
      ? `- **wrk reported errors** in ${wrkErrors.length} run(s); see the raw outputs.`
      : '- wrk reported no socket errors and no non-2xx responses on /plaintext.',
    computeTrouble.length > 0
      ? `- **The compute stream was not all 200s** in ${computeTrouble.length} run(s) (503s, errors or skipped ticks; see the rounds table).`
      : `- Every /compute request was answered 200 and no tick was skipped: the stream of ${o.rate} req/s stayed within what either mode could do.`,
    '',
    `Raw outputs (warm-ups included) are in \`${relative(BENCH_DIR, rawDir)}/\` (gitignored).`,
    '',
  ]);
  write(o.out);
}

/** The report's verdict: what the worker pool does to /plaintext's tail against inline and no load. */
function verdicts(med, results) {
  const lines = [];
  if (med.worker && med.inline) {
    const perRound = results.inline
      .map((r) => {
        const w = results.worker.find((x) => x.round === r.round);
        return w ? r.wrk.p99 / w.wrk.p99 : undefined;
      })
      .filter((x) => x !== undefined);
    const all = perRound.every((x) => x > 1)
      ? `in every round (${perRound.length} of ${perRound.length})`
      : `in ${perRound.filter((x) => x > 1).length} of ${perRound.length} rounds`;
    lines.push(
      `/plaintext p99 with /compute inline on the event loop was **${fmtMs(med.inline.p99)} ms**, with it on the worker pool **${fmtMs(med.worker.p99)} ms** (medians; inline ÷ worker ${fmtX(med.inline.p99 / med.worker.p99)}). Round by round, inline p99 ÷ worker p99: ${fmtRatios(perRound, 1)} (median ${fmtX(median(perRound))}); the worker's p99 was lower ${all}.`,
      `p90 shows it more plainly, since inline a whole share of the requests waits, not only the slowest 1 %: ${fmtMs(med.inline.p90)} ms inline, ${fmtMs(med.worker.p90)} ms on the worker pool${med.baseline ? `, ${fmtMs(med.baseline.p90)} ms with no compute load` : ''}.`,
    );
  }
  if (med.baseline && med.worker)
    lines.push(
      `Against no compute load (p99 ${fmtMs(med.baseline.p99)} ms), the worker pool added ${fmtMs(med.worker.p99 - med.baseline.p99)} ms to /plaintext p99${med.inline ? `, inline compute ${fmtMs(med.inline.p99 - med.baseline.p99)} ms` : ''}.`,
    );
  if (med.worker && med.inline)
    lines.push(
      `/compute itself took p50 ${fmtMs(med.worker.computeP50)} ms / p99 ${fmtMs(med.worker.computeP99)} ms on the worker pool and ${fmtMs(med.inline.computeP50)} / ${fmtMs(med.inline.computeP99)} ms inline: runInWorker moves the wait off the other requests; it does not make the computation itself faster.`,
    );
  return lines.length > 0 ? ['## Verdict', '', ...lines.map((v) => `- ${v}`), ''] : [];
}

// -------------------------------------------------------------------------------------------------- main

async function main() {
  if (flags.rerender !== undefined) return rerenderReport(runner, writeReport);
  cleanupOnExit(); // the server and the load generators, by PID
  prepare();
  const run = beginRun(runner, { facts: machineFacts() });
  const script = opts.pace > 0 ? join(run.rawDir, 'pace.lua') : undefined;
  if (script) writeFileSync(script, `function delay() return ${opts.pace} end\n`);

  const estimate = opts.rounds * opts.modes.length * (opts.warmup + opts.duration + 2);
  console.log(
    `bench:compute: ${opts.modes.join(', ')} × ${opts.rounds} round(s): ${opts.warmup} s warm-up + ${opts.duration} s measured; /compute?n=${opts.n} at ${opts.rate} req/s; wrk -c${opts.connections}${opts.pace > 0 ? `, ${opts.pace} ms pace` : ''}; server ${opts.pinServer ? 'pinned to core 0' : 'not pinned'}; about ${Math.ceil(estimate / 60)} min`,
  );

  const results = Object.fromEntries(opts.modes.map((m) => [m, []]));
  const order = await eachRound(runner, opts.modes, async (mode, round) => {
    const active = await startServer(mode);
    try {
      const base = join(run.rawDir, `r${round}-${mode}`);
      if (opts.warmup > 0) {
        const warm = await runLoads(mode, opts.warmup, script);
        writeFileSync(
          `${base}-warmup.txt`,
          `$ ${warm.wrk.command}\n${warm.wrk.text}\n${JSON.stringify(warm.compute ?? null)}\n`,
        );
      }
      const measured = await runLoads(mode, opts.duration, script, sampler(active.child.pid));
      writeFileSync(
        `${base}.txt`,
        `$ ${measured.wrk.command}\n${measured.wrk.text}\n# compute-load: ${JSON.stringify(measured.compute ?? null)}\n# CPU, % of one core: ${JSON.stringify(measured.cpu ?? null)}\n`,
      );
      if (active.isDead()) throw new Error(`the server died during the run:\n${active.log.join('')}`);
      const wrk = parseWrk(measured.wrk.text);
      const r = { round, wrk, compute: measured.compute, cpu: measured.cpu };
      results[mode].push(r);
      const c = r.compute;
      console.log(
        `bench:compute: round ${round} ${LABEL[mode].padEnd(20)} plaintext ${fmtInt(wrk.rps).padStart(6)} req/s p50 ${fmtMs(wrk.p50)} p99 ${fmtMs(wrk.p99)} max ${fmtMs(wrk.max)} ms${c ? `  compute ${c.ok}/${c.sent} ok, ${c.statuses[503] ?? 0}×503, p50 ${fmtMs(c.p50)} p99 ${fmtMs(c.p99)} ms` : ''}  server CPU ${fmtPct(r.cpu?.server)} (loop ${fmtPct(r.cpu?.loop)}) steal ${fmtPct(r.cpu?.steal)}`,
      );
    } finally {
      await stopServer(active);
    }
  });
  finishRun(runner, run, { results, order }, writeReport);
}

await main();
