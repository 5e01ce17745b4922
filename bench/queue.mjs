#!/usr/bin/env node
// The durable job queue (weir/queue) on each of its backends: SQLite (embedded, one file) with durability
// `full` (synchronous=FULL, the default) and `normal`, RabbitMQ (amqp://) and NATS JetStream (nats://):
//
//   npm run bench:queue                   (about 11 minutes; writes bench/RESULTS-queue.md)
//   node bench/queue.mjs --rounds 1 --backends amqp,nats --cases enqueue,process --out /tmp/queue.md
//
// 1. enqueue: jobs/s of `await queue.add(data)`, sequentially (one at a time) and from 64 concurrent
//    producers each awaiting its add (the shape of a web server adding jobs), up to --jobs (SQLite) or
//    --broker-jobs (RabbitMQ, NATS) jobs, or --enqueue-seconds, whichever comes first;
// 2. process: --process-jobs (SQLite) or --broker-process-jobs jobs added first, then jobs/s of one consumer
//    (a no-op handler, concurrency 32) until every job is done, and of two consumer processes at once;
// 3. http: the reference service (examples/service, compiled as bench/db.mjs does it: see buildService()
//    in lib/service.mjs) with QUEUE_URL on each backend (SQLite at its default durability, `full`) and
//    DATABASE_URL on a SQLite file in a temporary folder, loaded by wrk with POST /jobs
//    {"to":"a@example.com","workMs":0}; then
//    how fast its in-process worker drains the backlog, counted in the rows it writes to the service's table
//    welcome_emails (one per job), read with a separate connection to that file.
//
// 1 and 2 run in child node processes (`node --conditions=weir-source --import tsx bench/queue.mjs` with
// BENCH_QUEUE_CHILD set: this same file, running queue/child.mjs), pinned to core 0 (the second consumer of 2
// to core 1); the service runs pinned to core 0 and wrk (one thread) to core 1; the brokers are not pinned.
// Every library case uses a queue of its own name (weir-bench-<pid>-<random>-r<round>-<case>) on a fresh
// SQLite file or on the broker, whose queues or streams are deleted with the queue's destroy() after the
// case. The service's queue has a fixed name (welcome-emails): on a broker, its queues or streams are deleted
// before and after each HTTP case, through a handle of the runner's own. Every case runs once per round, the
// order rotated each round; every file lives in a temporary folder removed at exit. Traffic goes to 127.0.0.1
// only.
//
// The cases and constants are in queue/cases.mjs, the library cases in queue/library.mjs (their children in
// queue/child.mjs), the HTTP case in queue/http.mjs, the report in queue/report.mjs. See bench/README.md.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import {
  beginRun,
  buildService,
  cleanupOnExit,
  commandLine,
  eachRound,
  filesystemOf,
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
  output,
  pinning,
  ROOT,
  rerenderOption,
  rerenderReport,
  serverWarnings,
  snapshotSource,
  versionOf,
  waitForQuiet,
  waitForStableSource,
} from './lib.mjs';
import { natsVersion, rabbitVersion, sqliteVersion } from './queue/brokers.mjs';
import { BACKENDS, casesOf, DURABILITIES, isBroker, KINDS, NAME, shownUrl } from './queue/cases.mjs';
import { child } from './queue/child.mjs';
import { runHttp } from './queue/http.mjs';
import { caseQueue, destroyQueue, runEnqueue, runProcess } from './queue/library.mjs';
import { writeReport } from './queue/report.mjs';

/** A broker URL option: on 127.0.0.1 only. */
const brokerUrl =
  (scheme) =>
  (value, flag, { fail }) => {
    if (!new RegExp(`^${scheme}://([^@/]*@)?127\\.0\\.0\\.1(:\\d+)?/?$`).test(value))
      fail(`--${flag} must be an ${scheme}:// URL on 127.0.0.1`.replace('an nats', 'a nats'));
    return value;
  };

function parseOptions() {
  return commandLine({
    name: NAME,
    usage: 'Usage: node bench/queue.mjs [options]\n',
    columns: [28, 51],
    options: {
      rounds: option('<n>', 'rounds; the median is reported', '3', int(1, 20)),
      cases: option('<list>', `comma list of ${KINDS.join(',')}`, undefined, list(KINDS), { shown: 'all' }),
      backends: option('<list>', `comma list of ${BACKENDS.join(',')}`, undefined, list(BACKENDS), {
        shown: 'all',
      }),
      durability: option(
        '<list>',
        "SQLite's (enqueue, process): full,normal",
        undefined,
        list(DURABILITIES),
        {
          shown: 'both',
        },
      ),
      jobs: option('<n>', 'enqueue, SQLite: jobs per measurement at most', '100000', int(100, 1_000_000)),
      'broker-jobs': option('<n>', 'enqueue, RabbitMQ and NATS: the same', '20000', int(100, 1_000_000)),
      'enqueue-seconds': option('<s>', 'enqueue: seconds per measurement at most', '10', int(1, 120)),
      producers: option('<n>', 'enqueue: concurrent producers', '64', int(2, 10_000)),
      'process-jobs': option(
        '<n>',
        'process, SQLite: jobs added before the consumers',
        '20000',
        int(100, 1_000_000),
      ),
      'broker-process-jobs': option(
        '<n>',
        'process, RabbitMQ and NATS: the same',
        '20000',
        int(100, 1_000_000),
      ),
      concurrency: option('<n>', "process: each consumer's concurrency", '32', int(1, 1000)),
      'process-timeout': option('<s>', 'process: longest wait for the consumers', '120', int(10, 3600)),
      duration: option('<s>', 'http: measured wrk run, seconds', '10', int(1, 600)),
      warmup: option('<s>', 'http: discarded wrk warm-up before it (0 = none)', '3', int(0, 600)),
      connections: option('<n>', 'http: wrk connections (-c)', '64', int(1, 10_000)),
      'drain-timeout': option('<s>', 'http: longest wait for a drain', '120', int(10, 3600)),
      port: option('<n>', 'http: port the service listens on (127.0.0.1)', '3130', int(1024, 65535)),
      amqp: option('<url>', 'RabbitMQ, on 127.0.0.1', 'amqp://guest:guest@127.0.0.1:5672', brokerUrl('amqp')),
      nats: option('<url>', 'NATS with JetStream, on 127.0.0.1', 'nats://127.0.0.1:4222', brokerUrl('nats')),
      'wait-others': option('<s>', 'longest wait while another bench or test runs', '600', int(0, 3600)),
      out: outOption('the report', 'queue'),
      rerender: rerenderOption("a run's results/raw/queue-<timestamp>/summary.json"),
    },
  });
}

/** The machine's facts, with the versions of SQLite, the brokers and their clients, and where files go. */
const queueFacts = (workDir, rabbitmq, nats) => ({
  ...machineFacts(),
  betterSqlite3: versionOf(ROOT, 'better-sqlite3'),
  sqlite: sqliteVersion(),
  amqplib: versionOf(ROOT, 'amqplib'),
  natsClient: `${versionOf(ROOT, '@nats-io/transport-node')} / ${versionOf(ROOT, '@nats-io/jetstream')}`,
  rabbitmq,
  nats,
  tsx: versionOf(ROOT, 'tsx'),
  tmp: tmpdir(),
  filesystem: filesystemOf(workDir),
  // Where this machine's broker packages keep their data (RabbitMQ's home, nats-server's -sd), if there.
  brokerDisk: ['/var/lib/rabbitmq', '/var/lib/nats-server']
    .filter((dir) => existsSync(dir))
    .map((dir) => `${dir} (${filesystemOf(dir)})`)
    .join(', '),
  // What src/ held when it was copied and built, beyond the commit.
  srcChanges: output('git', ['status', '--porcelain', '--', 'src'], ROOT).split('\n').filter(Boolean),
});

/** One line on a case's result, as the run goes. */
function logCase(round, c, r) {
  const s = (n) => (n === undefined ? 'n/a' : n.toFixed(2));
  console.log(
    `${NAME}: round ${round} ${c.id.padEnd(24)} ${
      c.kind === 'http'
        ? `${fmtInt(r.rps)} req/s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  non-2xx ${r.non2xx}  added ${fmtInt(r.added)}  backlog ${fmtInt(r.backlog)} drained in ${s(r.drain.seconds)} s = ${fmtInt(r.drain.rate)} jobs/s  server ${fmtPct(r.cpu.server)}  broker ${fmtPct(r.cpu.broker)}`
        : `${fmtInt(r.rate).padStart(7)} jobs/s  (${fmtInt(r.jobs)} jobs in ${s(r.seconds)} s)  child CPU ${fmtPct(r.cpu.child)}  broker ${fmtPct(r.cpu.broker)}  machine ${fmtPct(r.cpu.machine)}${r.split ? `  split ${r.split.join(' + ')}` : ''}${r.p50 !== undefined ? `  add p50 ${fmtMs(r.p50)} ms p99 ${fmtMs(r.p99)} ms` : ''}`
    }`,
  );
}

async function main() {
  const runner = { ...parseOptions(), script: 'queue' };
  const { flags, opts, fail } = runner;
  if (flags.rerender !== undefined)
    return rerenderReport(runner, (summary) => writeReport(summary, opts.out));
  const cases = casesOf(opts);
  if (cases.length === 0) fail('nothing to run');
  if (!have('taskset')) fail('taskset (util-linux) is required');
  const needsHttp = cases.some((c) => c.kind === 'http');
  if (needsHttp && !have('wrk')) fail('wrk is required (apt-get install wrk)');
  const brokers = opts.backends.filter(isBroker);
  const rabbitmq = brokers.includes('amqp') ? await rabbitVersion(opts.amqp) : undefined;
  const nats = brokers.includes('nats') ? await natsVersion(opts.nats) : undefined;
  if (rabbitmq?.startsWith('n/a')) fail(`RabbitMQ at ${shownUrl(opts.amqp)} does not answer: ${rabbitmq}`);
  if (nats !== undefined && !nats.endsWith('JetStream on'))
    fail(`NATS at ${opts.nats} does not answer with JetStream on: ${nats}`);
  const workDir = mkdtempSync(join(tmpdir(), 'weir-bench-queue-'));
  cleanupOnExit(() => rmSync(workDir, { recursive: true, force: true }));
  const pin = pinning();
  const limit = { name: NAME, seconds: opts.waitOthers };
  try {
    await waitForQuiet(limit);
    await waitForStableSource(limit);
  } catch (err) {
    fail(err.message);
  }
  // The library cases run from a copy of src/ taken now, so that edits made to the tree while the run goes
  // do not reach them; the HTTP cases from the build made next.
  const source = cases.some((c) => c.kind !== 'http') ? snapshotSource(workDir) : undefined;
  if (needsHttp) buildService(runner);
  const run = beginRun(runner, { facts: queueFacts(workDir, rabbitmq, nats), pin });
  console.log(
    `${NAME}: ${cases.map((c) => c.id).join(', ')} × ${opts.rounds} round(s); raw outputs in ${relative(process.cwd(), run.rawDir)}/`,
  );

  const results = Object.fromEntries(cases.map((c) => [c.id, []]));
  const warnings = {};
  const waited = {};
  const cleanup = [];
  const runCase = async (c, round) => {
    const key = `${c.id} round ${round}`;
    waited[key] = await waitForQuiet(limit);
    const dir = join(workDir, `r${round}-${c.id}`);
    mkdirSync(dir);
    const rawBase = join(run.rawDir, `r${round}-${c.id}`);
    const queue = c.kind === 'http' ? undefined : caseQueue(c, dir, round, opts);
    try {
      const measure = c.kind === 'enqueue' ? runEnqueue : c.kind === 'process' ? runProcess : runHttp;
      const r = { round, ...(await measure(c, { queue, dir, pin, rawBase, opts, source })) };
      results[c.id].push(r);
      if (c.kind === 'http') warnings[key] = serverWarnings(readFileSync(`${rawBase}-server.log`, 'utf8'));
      logCase(round, c, r);
    } finally {
      if (queue && isBroker(c.backend))
        await destroyQueue(queue, rawBase, source).catch((err) => {
          cleanup.push(`${key}: ${err.message.split('\n')[0]}`);
          console.error(`${NAME}: could not delete the queue ${queue.name}: ${err.message}`);
        });
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const order = (await eachRound(runner, cases, runCase, { stack: true })).map((cs) => cs.map((c) => c.id));
  finishRun(runner, run, { results, order, warnings, waited, cleanup }, (summary) =>
    writeReport(summary, opts.out),
  );
}

const CHILD = process.env.BENCH_QUEUE_CHILD;
if (CHILD) {
  try {
    await child(CHILD);
  } catch (err) {
    console.error(err);
    process.exit(1);
  }
} else await main();
