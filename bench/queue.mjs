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
// 3. http: the reference service (examples/service, compiled as bench/db.mjs does it: see buildService() in
//    lib.mjs) with QUEUE_URL on each backend (SQLite at its default durability, `full`) and DATABASE_URL on a
//    SQLite file in a temporary folder, loaded by wrk with POST /jobs {"to":"a@example.com","workMs":0}; then
//    how fast its in-process worker drains the backlog, counted in the rows it writes to the service's table
//    welcome_emails (one per job), read with a separate connection to that file.
//
// 1 and 2 run in child node processes (`node --conditions=weir-source --import tsx bench/queue.mjs` with
// BENCH_QUEUE_CHILD set: this same file), pinned to core 0 (the second consumer of 2 to core 1); the service
// runs pinned to core 0 and wrk (one thread) to core 1; the brokers are not pinned. Every library case uses a
// queue of its own name (weir-bench-<pid>-<random>-r<round>-<case>) on a fresh SQLite file or on the broker,
// whose queues or streams are deleted with the queue's destroy() after the case. The service's queue has a
// fixed name (welcome-emails): on a broker, its queues or streams are deleted before and after each HTTP
// case, through a handle of the runner's own. Every case runs once per round, the order rotated each round;
// every file lives in a temporary folder removed at exit. Traffic goes to 127.0.0.1 only.
//
// See bench/README.md.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  BENCH_DIR,
  beginRun,
  buildService,
  cleanupOnExit,
  clockTicks,
  finishRun,
  flagReaders,
  fmtInt,
  fmtMs,
  fmtPct,
  get,
  HOST,
  have,
  killLive,
  machineAndCommand,
  machineFacts,
  markdown,
  measureWrk,
  median,
  output,
  parseWrk,
  pinning,
  post,
  processTicks,
  ROOT,
  rerenderReport,
  rotation,
  SERVICE_ARGV,
  sleep,
  startServer,
  statTicks,
  stopServer,
  ticks,
  track,
  versionOf,
} from './lib.mjs';

const NAME = 'bench:queue';
/** The reference service's queue (WELCOME_QUEUE in examples/service/jobs.ts). */
const SERVICE_QUEUE = 'welcome-emails';
/** The job every case adds, as POST /jobs carries it. */
const JOB = { to: 'a@example.com', workMs: 0 };
const JOB_BODY = JSON.stringify(JOB);
/** The reference service's worker concurrency (JOB_LIMITS.concurrency in examples/service/jobs.ts). */
const SERVICE_WORKER_CONCURRENCY = 8;
/** Jobs added (not measured) before an enqueue measurement, to warm the code and the store up. */
const ENQUEUE_WARMUP_JOBS = 500;
/** The pre-fill adds this many jobs at once (on SQLite: one group-committed transaction each). */
const FILL_BATCH = 1000;
/** A drain is over once nothing is waiting or running and no row was written for this long. */
const SETTLE_MS = 1000;
/** Other benchmark runners and test runs: a measurement waits while one of them runs. */
const OTHER_RUNNERS = /(^|\/)(bench\/(run|db|cache|compute|db-drivers|profile)\.mjs|scripts\/test\.mjs)$/;
const BACKENDS = ['sqlite', 'amqp', 'nats'];
const DURABILITIES = ['full', 'normal'];
const KINDS = ['enqueue', 'process', 'http'];
/** The columns of the report: SQLite per durability, then the brokers. */
const TARGETS = ['sqlite-full', 'sqlite-normal', 'amqp', 'nats'];
const TARGET_LABEL = {
  'sqlite-full': 'SQLite `full`',
  'sqlite-normal': 'SQLite `normal`',
  amqp: 'RabbitMQ',
  nats: 'NATS JetStream',
};
/** A broker's process name in /proc, whose CPU the runner reads. */
const BROKER_PROCESS = { amqp: 'beam.smp', nats: 'nats-server' };
/** This run's part of every queue name it makes, so that it touches no queue it did not create. */
const RUN_ID = `${process.pid}-${randomBytes(3).toString('hex')}`;

const now = () => performance.timeOrigin + performance.now();
const isBroker = (backend) => backend !== 'sqlite';

// ================================================================================================ child

/**
 * A library measurement in a child process (BENCH_QUEUE_CHILD = enqueue | fill | consume | destroy; its
 * settings in BENCH_QUEUE_CONFIG, JSON: the queue's `name`, `url` and SQLite `durability`, and the mode's),
 * run from source: `node --conditions=weir-source --import tsx`. It imports queue/index.ts by path from
 * BENCH_QUEUE_SRC, the runner's copy of src/ (bench/ is a package of its own, so `weir/queue` does not resolve
 * from here; it is the file the weir-source condition maps `weir/queue` to), and talks to the runner over IPC.
 */
async function child(mode) {
  const cfg = JSON.parse(process.env.BENCH_QUEUE_CONFIG);
  const src = process.env.BENCH_QUEUE_SRC ?? join(ROOT, 'src');
  const { openJobQueue } = await import(pathToFileURL(join(src, 'queue', 'index.ts')).href);
  const queue = countable(
    await openJobQueue(cfg.name, {
      url: cfg.url,
      ...(cfg.durability && { durability: cfg.durability }),
    }),
    cfg.url,
  );
  const send = (message) => new Promise((done) => process.send(message, done));
  const message = (type) =>
    new Promise((done) => {
      const on = (m) => {
        if (m?.type !== type) return;
        process.off('message', on);
        done(m);
      };
      process.on('message', on);
    });

  if (mode === 'enqueue') {
    // `producers` loops, each awaiting its add() before the next; 1 = sequential.
    const run = async (jobs, seconds, latencies) => {
      let started = 0;
      let done = 0;
      const deadline = performance.now() + seconds * 1000;
      const producer = async () => {
        while (started < jobs && performance.now() < deadline) {
          const i = started++;
          const t = performance.now();
          await queue.add(JOB);
          if (latencies) latencies[i] = performance.now() - t;
          done++;
        }
      };
      await Promise.all(Array.from({ length: cfg.producers }, producer));
      return done;
    };
    await run(ENQUEUE_WARMUP_JOBS, 30);
    const latencies = new Float64Array(cfg.jobs);
    await send({ type: 'start' });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const jobs = await run(cfg.jobs, cfg.seconds, latencies);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const sorted = latencies.subarray(0, jobs).sort();
    const at = (q) => sorted[Math.floor(q * (jobs - 1))];
    const counts = await queue.counts();
    await send({
      type: 'result',
      jobs,
      seconds,
      rate: jobs / seconds,
      p50: at(0.5),
      p99: at(0.99),
      max: sorted[jobs - 1],
      cpu: ((cpu.user + cpu.system) / 1000 / 1000 / seconds) * 100,
      expectedWaiting: ENQUEUE_WARMUP_JOBS + jobs,
      counts,
    });
  } else if (mode === 'fill') {
    const t0 = performance.now();
    for (let i = 0; i < cfg.jobs; i += FILL_BATCH)
      await Promise.all(Array.from({ length: Math.min(FILL_BATCH, cfg.jobs - i) }, () => queue.add(JOB)));
    await send({
      type: 'result',
      seconds: (performance.now() - t0) / 1000,
      counts: await queue.counts(),
    });
  } else if (mode === 'consume') {
    await send({ type: 'ready' });
    const go = message('go');
    const stop = message('stop');
    await go;
    const cpu0 = process.cpuUsage();
    const start = now();
    const consumer = queue.process(() => undefined, { concurrency: cfg.concurrency });
    // `processed` counts jobs whose outcome is recorded (committed, acked): the time it last moved is this
    // consumer's end.
    let last = 0;
    let lastAt = start;
    let lastCpu = { user: 0, system: 0 };
    const watch = setInterval(() => {
      if (consumer.processed !== last) {
        last = consumer.processed;
        lastAt = now();
        lastCpu = process.cpuUsage(cpu0);
      }
    }, 2);
    const progress = setInterval(() => process.send({ type: 'progress', processed: last }), 50);
    await stop;
    clearInterval(watch);
    clearInterval(progress);
    await consumer.close();
    const seconds = (lastAt - start) / 1000;
    await send({
      type: 'result',
      start,
      end: lastAt,
      processed: consumer.processed,
      cpu: seconds > 0 ? ((lastCpu.user + lastCpu.system) / 1000 / 1000 / seconds) * 100 : undefined,
      counts: await queue.counts(),
    });
  } else if (mode === 'destroy') {
    // A broker's queues or streams of this name (the runner's own, made for one case) are deleted.
    await queue.destroy();
    await send({ type: 'result' });
  } else {
    throw new Error(`unknown BENCH_QUEUE_CHILD ${mode}`);
  }
  await queue.close();
  process.disconnect();
}

// ================================================================================================ runner

const HELP = `Usage: node bench/queue.mjs [options]

  --rounds <n>                rounds; the median is reported                     default 3
  --cases <list>              comma list of enqueue,process,http                 default all
  --backends <list>           comma list of sqlite,amqp,nats                     default all
  --durability <list>         SQLite's (enqueue, process): full,normal           default both
  --jobs <n>                  enqueue, SQLite: jobs per measurement at most      default 100000
  --broker-jobs <n>           enqueue, RabbitMQ and NATS: the same               default 20000
  --enqueue-seconds <s>       enqueue: seconds per measurement at most           default 10
  --producers <n>             enqueue: concurrent producers                      default 64
  --process-jobs <n>          process, SQLite: jobs added before the consumers   default 20000
  --broker-process-jobs <n>   process, RabbitMQ and NATS: the same               default 20000
  --concurrency <n>           process: each consumer's concurrency               default 32
  --process-timeout <s>       process: longest wait for the consumers            default 120
  --duration <s>              http: measured wrk run, seconds                    default 10
  --warmup <s>                http: discarded wrk warm-up before it (0 = none)   default 3
  --connections <n>           http: wrk connections (-c)                         default 64
  --drain-timeout <s>         http: longest wait for a drain                     default 120
  --port <n>                  http: port the service listens on (127.0.0.1)      default 3130
  --amqp <url>                RabbitMQ, on 127.0.0.1                             default amqp://guest:guest@127.0.0.1:5672
  --nats <url>                NATS with JetStream, on 127.0.0.1                  default nats://127.0.0.1:4222
  --wait-others <s>           longest wait while another bench or test runs      default 600
  --out <file>                the report                                         default bench/RESULTS-queue.md
  --rerender <file>           no run: rewrite the report from a run's results/raw/queue-<timestamp>/summary.json
  -h, --help
`;

let opts;
let flags;
let fail;

function parseOptions() {
  ({ values: flags } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      cases: { type: 'string' },
      backends: { type: 'string' },
      durability: { type: 'string' },
      jobs: { type: 'string', default: '100000' },
      'broker-jobs': { type: 'string', default: '20000' },
      'enqueue-seconds': { type: 'string', default: '10' },
      producers: { type: 'string', default: '64' },
      'process-jobs': { type: 'string', default: '20000' },
      'broker-process-jobs': { type: 'string', default: '20000' },
      concurrency: { type: 'string', default: '32' },
      'process-timeout': { type: 'string', default: '120' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      connections: { type: 'string', default: '64' },
      'drain-timeout': { type: 'string', default: '120' },
      port: { type: 'string', default: '3130' },
      amqp: { type: 'string', default: 'amqp://guest:guest@127.0.0.1:5672' },
      nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
      'wait-others': { type: 'string', default: '600' },
      out: { type: 'string', default: join(BENCH_DIR, 'RESULTS-queue.md') },
      rerender: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  }));
  if (flags.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const readers = flagReaders(NAME, flags);
  const { int, list } = readers;
  fail = readers.fail;
  opts = {
    rounds: int('rounds', 1, 20),
    cases: list('cases', KINDS),
    backends: list('backends', BACKENDS),
    durability: list('durability', DURABILITIES),
    jobs: int('jobs', 100, 1_000_000),
    brokerJobs: int('broker-jobs', 100, 1_000_000),
    enqueueSeconds: int('enqueue-seconds', 1, 120),
    producers: int('producers', 2, 10_000),
    processJobs: int('process-jobs', 100, 1_000_000),
    brokerProcessJobs: int('broker-process-jobs', 100, 1_000_000),
    concurrency: int('concurrency', 1, 1000),
    processTimeout: int('process-timeout', 10, 3600),
    duration: int('duration', 1, 600),
    warmup: int('warmup', 0, 600),
    connections: int('connections', 1, 10_000),
    drainTimeout: int('drain-timeout', 10, 3600),
    port: int('port', 1024, 65535),
    amqp: flags.amqp,
    nats: flags.nats,
    waitOthers: int('wait-others', 0, 3600),
    out: flags.out,
  };
  if (!/^amqp:\/\/([^@/]*@)?127\.0\.0\.1(:\d+)?\/?$/.test(opts.amqp))
    fail('--amqp must be an amqp:// URL on 127.0.0.1');
  if (!/^nats:\/\/([^@/]*@)?127\.0\.0\.1(:\d+)?\/?$/.test(opts.nats))
    fail('--nats must be a nats:// URL on 127.0.0.1');
}

/** The library cases' backends, in the report's order: { key, backend, durability (SQLite's) }. */
function targetsOf(o) {
  const targets = [];
  if (o.backends.includes('sqlite'))
    for (const durability of o.durability)
      targets.push({ key: `sqlite-${durability}`, backend: 'sqlite', durability });
  for (const backend of o.backends) if (isBroker(backend)) targets.push({ key: backend, backend });
  return targets;
}

/**
 * The cases of a run, in the order of round 1: { id, kind, key (the report's column), backend, durability,
 * producers | consumers }. The service's queue runs at SQLite's default durability, `full`.
 */
function casesOf(o) {
  const cases = [];
  const targets = targetsOf(o);
  if (o.cases.includes('enqueue'))
    for (const t of targets)
      for (const producers of [1, o.producers])
        cases.push({ id: `enqueue-${producers}-${t.key}`, kind: 'enqueue', ...t, producers });
  if (o.cases.includes('process'))
    for (const t of targets)
      for (const consumers of [1, 2])
        cases.push({ id: `process-${consumers}-${t.key}`, kind: 'process', ...t, consumers });
  if (o.cases.includes('http'))
    for (const backend of o.backends)
      cases.push(
        isBroker(backend)
          ? { id: `http-${backend}`, kind: 'http', key: backend, backend }
          : { id: 'http-sqlite', kind: 'http', key: 'sqlite-full', backend, durability: 'full' },
      );
  return cases;
}

/** What a case measures, backend aside. */
function label(c, o = opts) {
  if (c.kind === 'enqueue')
    return c.producers === 1
      ? 'enqueue, sequential `await add()`'
      : `enqueue, ${c.producers} concurrent producers`;
  if (c.kind === 'process')
    return c.consumers === 1
      ? `process, 1 consumer (concurrency ${o.concurrency})`
      : `process, ${c.consumers} consumer processes (concurrency ${o.concurrency} each)`;
  return `HTTP \`POST /jobs\` (wrk -c${o.connections})`;
}

/** The most jobs one enqueue measurement adds, and the jobs a process measurement runs, on `c`'s backend. */
const enqueueJobs = (c, o = opts) => (isBroker(c.backend) ? o.brokerJobs : o.jobs);
const processJobs = (c, o = opts) => (isBroker(c.backend) ? o.brokerProcessJobs : o.processJobs);

/** A library case's queue, its own: { name, url, durability }, the child's BENCH_QUEUE_CONFIG base. */
function caseQueue(c, dir, round) {
  return {
    name: `weir-bench-${RUN_ID}-r${round}-${c.id}`,
    url: isBroker(c.backend) ? opts[c.backend] : `sqlite:${join(dir, 'queue.db')}`,
    durability: c.durability,
  };
}

// ---------------------------------------------------------------------------------------------- machine

/** Node processes running another bench runner or the test suite, as "PID command". */
function otherRuns() {
  const found = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (!/(^|\/)node$/.test(args[0] ?? '')) continue;
      const cwd = readlinkSync(`/proc/${pid}/cwd`);
      if (args.includes('--test') || args.slice(1).some((arg) => OTHER_RUNNERS.test(resolve(cwd, arg))))
        found.push(`${pid} ${args.join(' ')}`);
    } catch {
      // gone, or not ours to read
    }
  }
  return found;
}

/**
 * Polls `busy()` every 5 s until it answers nothing (undefined), up to --wait-others s, and then resolves to
 * the seconds waited; `busy()` answers why it is not time yet, which is shown once, or thrown at the end.
 */
async function waitWhile(busy) {
  const t0 = Date.now();
  let shown = false;
  for (;;) {
    const reason = busy();
    if (reason === undefined) return (Date.now() - t0) / 1000;
    if (Date.now() - t0 > opts.waitOthers * 1000)
      throw new Error(`still ${reason} after ${opts.waitOthers} s`);
    if (!shown) console.log(`${NAME}: waiting: ${reason}`);
    shown = true;
    await sleep(5000);
  }
}

/** Waits while another bench runner or a test run runs; resolves to the seconds waited. */
const waitForQuiet = () =>
  waitWhile(() => {
    const others = otherRuns();
    return others.length > 0 ? `another bench runner or test run runs: ${others.join('; ')}` : undefined;
  });

/** The newest modification time (ms) of a file under `dir`. */
function newestChange(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true }))
    if (entry.isFile()) {
      try {
        newest = Math.max(newest, statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
      } catch {
        // removed meanwhile
      }
    }
  return newest;
}

/**
 * Waits until no file under src/ has changed for 60 s: the library cases run from a copy of src/ taken now,
 * and the HTTP cases from the build made next, so an edit in progress must be over.
 */
const waitForStableSource = () =>
  waitWhile(() => {
    const age = (Date.now() - newestChange(join(ROOT, 'src'))) / 1000;
    return age < 60 ? `src/ changed ${Math.round(age)} s ago (it must rest for 60 s)` : undefined;
  });

/** The library children's copy of src/, with what it needs around it to load (see snapshotSource()). */
let sourceCopy;

/**
 * Copies src/ into `dir`/src (next to a package.json of type module and a link to the repo's node_modules,
 * so that it loads as src/ does): the library cases run from this copy, so that edits made to the tree while
 * the run goes do not reach them.
 */
function snapshotSource(dir) {
  cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "private": true, "type": "module" }\n');
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  sourceCopy = join(dir, 'src');
}

/** CPU ticks of `backend`'s broker process (all its threads), or undefined for SQLite. */
const brokerTicks = (backend) =>
  BROKER_PROCESS[backend] ? processTicks(BROKER_PROCESS[backend]) : undefined;

/** The machine's busy and steal ticks and the broker's, now: see machineCpu(). */
const machineSample = (backend) => ({
  at: performance.now(),
  stat: statTicks('cpu'),
  broker: brokerTicks(backend),
});

/** Busy, steal and the broker's CPU, in % of one core, between two machineSample()s. */
function machineCpu(first, last) {
  const seconds = (last.at - first.at) / 1000;
  if (!(seconds > 0)) return {};
  const pct = (n) => (n / clockTicks() / seconds) * 100;
  const both = first.stat && last.stat;
  return {
    machine: both ? pct(last.stat.busy - first.stat.busy) : undefined,
    steal: both ? pct(last.stat.steal - first.stat.steal) : undefined,
    broker:
      first.broker !== undefined && last.broker !== undefined ? pct(last.broker - first.broker) : undefined,
  };
}

/** The filesystem type and device of the folder `dir` (`ext4 /dev/vda`), from df. */
function filesystemOf(dir) {
  const line = output('df', ['-T', dir]).split('\n')[1] ?? '';
  const [device, type] = line.split(/\s+/);
  return type ? `${type} on ${device}` : 'unknown';
}

/** A package of the repo root's node_modules (better-sqlite3, amqplib), for the runner's own use. */
const rootRequire = createRequire(join(ROOT, 'package.json'));

function sqliteVersion() {
  try {
    const Database = rootRequire('better-sqlite3');
    const db = new Database(':memory:');
    const { v } = db.prepare('SELECT sqlite_version() AS v').get();
    db.close();
    return v;
  } catch {
    return 'n/a';
  }
}

/**
 * `queue` with a `counts()` the bench can check. SQLite keeps every job's state and has its own; a broker
 * keeps none (weir's RabbitMQ and NATS queues offer no `counts()`), so the bench reads what the broker
 * itself reports, with its own client on `url`: RabbitMQ's ready messages as `waiting` (it reports no
 * `active`), NATS's consumer pending and ack-pending as `waiting` and `active`, and the length of the
 * dead-letter queue or stream as `dead`. No broker reports `failed` (waiting for a retry) or `completed`.
 */
function countable(queue, url) {
  if (typeof queue.counts === 'function') return queue;
  queue.counts = () => brokerCounts(queue.backend, queue.name, url);
  return queue;
}

async function brokerCounts(backend, name, url) {
  const counts = { waiting: 0, active: 0, failed: 0, completed: 0, dead: 0 };
  if (backend === 'amqp') {
    const model = await rootRequire('amqplib').connect(url, { timeout: 3000 });
    try {
      const channel = await model.createChannel();
      counts.waiting = (await channel.checkQueue(`weir.${name}`)).messageCount;
      counts.dead = (await channel.checkQueue(`weir.${name}.dead`)).messageCount;
    } finally {
      await model.close().catch(() => undefined);
    }
    return counts;
  }
  const { hostname, port } = new URL(url);
  const nc = await rootRequire('@nats-io/transport-node').connect({ servers: `${hostname}:${port || 4222}` });
  try {
    const jsm = await rootRequire('@nats-io/jetstream').jetstreamManager(nc);
    const consumer = await jsm.consumers.info(`WEIR_${name}`, 'weir');
    counts.waiting = consumer.num_pending;
    counts.active = consumer.num_ack_pending;
    counts.dead = (await jsm.streams.info(`WEIR-DEAD_${name}`)).state.messages;
  } finally {
    await nc.close();
  }
  return counts;
}

/** RabbitMQ's product and version, from its connection handshake (amqplib), or 'n/a'. */
async function rabbitVersion(url) {
  try {
    const model = await rootRequire('amqplib').connect(url, { timeout: 3000 });
    const { product, version } = model.connection.serverProperties;
    await model.close();
    return `${product} ${version}`;
  } catch (err) {
    return `n/a (${err.message})`;
  }
}

/** nats-server's version and whether JetStream is on, from the INFO it greets a client with, or 'n/a'. */
function natsVersion(url) {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = createConnection({ host: hostname, port: Number(port || 4222) });
    let text = '';
    const end = (answer) => {
      clearTimeout(timer);
      socket.destroy();
      done(answer);
    };
    const timer = setTimeout(() => end('n/a (no INFO within 3 s)'), 3000);
    socket.on('data', (chunk) => {
      text += chunk;
      const line = /^INFO (.*)\r\n/.exec(text);
      if (!line) return;
      try {
        const info = JSON.parse(line[1]);
        end(`nats-server ${info.version}, JetStream ${info.jetstream ? 'on' : 'off'}`);
      } catch {
        end('n/a (unreadable INFO)');
      }
    });
    socket.on('error', (err) => end(`n/a (${err.message})`));
  });
}

// ------------------------------------------------------------------------------------------ child procs

/**
 * Starts this file as a library child (`mode`, `config`), pinned with `pin` (taskset's argv, or []), in the
 * repo root (where tsx is installed). Returns { child, log, wait(type, ms), exited, onProgress }: wait()
 * resolves to the next IPC message of `type`, or rejects if the child exits first or `ms` passes.
 */
function startChild(mode, config, pin) {
  const argv = [
    ...pin,
    process.execPath,
    '--conditions=weir-source',
    '--import',
    'tsx',
    fileURLToPath(import.meta.url),
  ];
  const child = track(
    spawn(argv[0], argv.slice(1), {
      cwd: ROOT,
      env: {
        ...process.env,
        BENCH_QUEUE_CHILD: mode,
        BENCH_QUEUE_CONFIG: JSON.stringify(config),
        BENCH_QUEUE_SRC: sourceCopy,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    }),
  );
  const log = [];
  child.stdout.on('data', (d) => log.push(String(d)));
  child.stderr.on('data', (d) => log.push(String(d)));
  const inbox = [];
  const waiters = new Set();
  let exit;
  const exited = new Promise((done) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      for (const w of waiters) w.check();
      done(exit);
    }),
  );
  const handle = { child, log, exited, onProgress: undefined };
  child.on('message', (m) => {
    if (m?.type === 'progress') return handle.onProgress?.(m);
    inbox.push(m);
    for (const w of waiters) w.check();
  });
  handle.wait = (type, ms) =>
    new Promise((done, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`${mode} child: no "${type}" within ${ms / 1000} s:\n${log.join('')}`));
      }, ms);
      const w = {
        check() {
          const i = inbox.findIndex((m) => m?.type === type);
          if (i !== -1) {
            clearTimeout(timer);
            waiters.delete(w);
            done(inbox.splice(i, 1)[0]);
          } else if (exit) {
            clearTimeout(timer);
            waiters.delete(w);
            reject(
              new Error(
                `${mode} child exited (${exit.code ?? exit.signal}) before "${type}":\n${log.join('')}`,
              ),
            );
          }
        },
      };
      waiters.add(w);
      w.check();
    });
  return handle;
}

/** Waits up to 10 s for a child to exit, then SIGKILLs it by PID. */
async function reap(handle) {
  const timer = setTimeout(() => handle.child.kill('SIGKILL'), 10_000);
  await handle.exited;
  clearTimeout(timer);
}

const pinTo = (pin, core) => (pin.pinned ? ['taskset', '-c', String(core)] : []);

/** Deletes a library case's broker queue or streams (`queue` from caseQueue()) in a child of its own. */
async function destroyQueue(queue, rawBase) {
  const handle = startChild('destroy', queue, []);
  try {
    await handle.wait('result', 60_000);
    await reap(handle);
  } finally {
    writeFileSync(`${rawBase}-destroy.log`, handle.log.join(''));
  }
}

// --------------------------------------------------------------------------------------------- enqueue

async function runEnqueue(c, { queue, pin, rawBase }) {
  const jobs = enqueueJobs(c);
  const child = startChild(
    'enqueue',
    { ...queue, producers: c.producers, jobs, seconds: opts.enqueueSeconds },
    pinTo(pin, 0),
  );
  try {
    await child.wait('start', 120_000);
    const m0 = machineSample(c.backend);
    const r = await child.wait('result', (opts.enqueueSeconds + 120) * 1000);
    const cpu = machineCpu(m0, machineSample(c.backend));
    await reap(child);
    if (r.counts.waiting !== r.expectedWaiting)
      throw new Error(`${c.id}: ${r.counts.waiting} jobs waiting, not ${r.expectedWaiting}`);
    return {
      jobs: r.jobs,
      seconds: r.seconds,
      rate: r.rate,
      p50: r.p50,
      p99: r.p99,
      max: r.max,
      byTime: r.jobs < jobs,
      cpu: { child: r.cpu, ...cpu },
    };
  } finally {
    writeFileSync(`${rawBase}.log`, child.log.join(''));
  }
}

// --------------------------------------------------------------------------------------------- process

async function runProcess(c, { queue, pin, rawBase }) {
  const jobs = processJobs(c);
  const fill = startChild('fill', { ...queue, jobs }, pinTo(pin, 0));
  const kids = [];
  try {
    const filled = await fill.wait('result', 300_000);
    await reap(fill);
    if (filled.counts.waiting !== jobs)
      throw new Error(`${c.id}: filled ${filled.counts.waiting}, not ${jobs}`);
    const config = { ...queue, concurrency: opts.concurrency };
    for (let i = 0; i < c.consumers; i++) kids.push(startChild('consume', config, pinTo(pin, i)));
    await Promise.all(kids.map((k) => k.wait('ready', 120_000)));
    const progress = kids.map(() => 0);
    kids.forEach((k, i) => {
      k.onProgress = (m) => {
        progress[i] = m.processed;
      };
    });
    const m0 = machineSample(c.backend);
    for (const k of kids) k.child.send({ type: 'go' });
    const deadline = Date.now() + opts.processTimeout * 1000;
    while (progress.reduce((a, b) => a + b, 0) < jobs) {
      if (Date.now() > deadline)
        throw new Error(`${c.id}: ${progress.join(' + ')} of ${jobs} jobs after ${opts.processTimeout} s`);
      if (kids.some((k) => k.child.exitCode !== null || k.child.signalCode !== null))
        throw new Error(`${c.id}: a consumer exited:\n${kids.map((k) => k.log.join('')).join('\n')}`);
      await sleep(20);
    }
    const cpu = machineCpu(m0, machineSample(c.backend));
    for (const k of kids) k.child.send({ type: 'stop' });
    const results = await Promise.all(kids.map((k) => k.wait('result', 60_000)));
    await Promise.all(kids.map(reap));
    // A broker keeps no completed jobs (counts().completed is 0 there): what was processed is counted instead.
    const counts = results.at(-1).counts;
    const processed = results.reduce((sum, r) => sum + r.processed, 0);
    if (
      processed !== jobs ||
      counts.waiting + counts.active + counts.failed + counts.dead !== 0 ||
      (c.backend === 'sqlite' && counts.completed !== jobs)
    )
      throw new Error(`${c.id}: ${processed} processed, then ${JSON.stringify(counts)}; not ${jobs} done`);
    const start = Math.min(...results.map((r) => r.start));
    const end = Math.max(...results.map((r) => r.end));
    const seconds = (end - start) / 1000;
    return {
      jobs,
      fillSeconds: filled.seconds,
      seconds,
      rate: jobs / seconds,
      split: results.map((r) => r.processed),
      cpu: { child: results.reduce((sum, r) => sum + (r.cpu ?? 0), 0), ...cpu },
    };
  } finally {
    writeFileSync(
      `${rawBase}.log`,
      [fill, ...kids].map((k, i) => `# ${i === 0 ? 'fill' : `consumer ${i}`}\n${k.log.join('')}`).join('\n'),
    );
  }
}

// ------------------------------------------------------------------------------------------------ http

const LUA = `-- POST /jobs with the reference service's job, as a web client would send it.
wrk.method = "POST"
wrk.body = '${JOB_BODY}'
wrk.headers["Content-Type"] = "application/json"
`;

const wrkArgs = (pin, seconds, lua) => [
  ...pin.wrk,
  'wrk',
  '-t1',
  `-c${opts.connections}`,
  `-d${seconds}s`,
  '--latency',
  '-s',
  lua,
  `http://${HOST}:${opts.port}/jobs`,
];

/** Jobs not done yet (a broker counts none `failed`, and RabbitMQ none `active`: they read 0). */
const pending = (c) => c.waiting + c.active + c.failed;
/** Every job a SQLite queue holds. */
const total = (c) => c.waiting + c.active + c.failed + c.completed + c.dead;

/**
 * The service's table welcome_emails, read with a connection of the runner's own (better-sqlite3, read-only;
 * the file is in WAL mode, so it does not stand in the service's way): { count(), has(jobId), close() }.
 */
function emailRows(file) {
  const Database = rootRequire('better-sqlite3');
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
  const count = db.prepare('SELECT count(*) AS n FROM welcome_emails');
  const has = db.prepare('SELECT 1 AS ok FROM welcome_emails WHERE job_id = ?');
  return {
    count: () => count.get().n,
    has: (id) => has.get(id) !== undefined,
    close: () => db.close(),
  };
}

/**
 * The service's answers: a valid job (202, { id }, Location, and the worker's row for it; GET /jobs/:id
 * then says completed, on every backend) and a bad one (400); the runner's
 * own handle sees nothing left in the queue, and the table holds that one row.
 */
async function checkService(c, queue, rows) {
  const problems = [];
  const res = await post(opts.port, '/jobs', JOB_BODY);
  let id;
  try {
    id = JSON.parse(res.body).id;
  } catch {
    // reported below
  }
  if (res.status !== 202) problems.push(`POST /jobs: status ${res.status}`);
  if (typeof id !== 'string') problems.push(`POST /jobs: body ${JSON.stringify(res.body.slice(0, 200))}`);
  else {
    if (res.headers.location !== `/jobs/${id}`) problems.push(`POST /jobs: location ${res.headers.location}`);
    let written = false;
    for (let i = 0; i < 100 && !written; i++) {
      written = rows.has(id);
      if (!written) await sleep(100);
    }
    if (!written) problems.push(`job ${id}: no row in welcome_emails after 10 s`);
    // The service keeps each job's status in its own table: GET /jobs/:id answers on every backend.
    let state;
    for (let i = 0; i < 50 && state !== 'completed'; i++) {
      const job = await get(opts.port, `/jobs/${id}`);
      state = job.status === 200 ? JSON.parse(job.body).state : `status ${job.status}`;
      if (state !== 'completed') await sleep(100);
    }
    if (state !== 'completed') problems.push(`GET /jobs/${id}: ${state} after 5 s, not completed`);
  }
  const bad = await post(opts.port, '/jobs', '{"to":"nobody","workMs":0}');
  if (bad.status !== 400) problems.push(`POST /jobs with a bad address: status ${bad.status}, not 400`);
  let counts;
  for (let i = 0; i < 50; i++) {
    counts = await queue.counts();
    if (pending(counts) === 0) break;
    await sleep(100);
  }
  if (
    isBroker(c.backend) ? pending(counts) + counts.dead !== 0 : counts.completed !== 1 || total(counts) !== 1
  )
    problems.push(`the queue "${SERVICE_QUEUE}" read by the runner holds ${JSON.stringify(counts)}`);
  const n = rows.count();
  if (n !== 1) problems.push(`welcome_emails holds ${n} rows, not 1`);
  if (problems.length > 0) throw new Error(`the service fails the checks:\n  ${problems.join('\n  ')}`);
}

/**
 * Waits for the worker to drain what the load left, from `from` ({ rows, counts, at }: welcome_emails' row
 * count, counts() and performance.now() when the load stopped), reading the row count every 100 ms and the
 * queue's counts() after it. The drain is over once the queue has nothing waiting or running and no row was
 * written for SETTLE_MS; it ends at the last row seen written (or at --drain-timeout). The CPU of the server
 * (`serverPid`) and of `backend`'s broker is taken over the same time. Resolves to { seconds, jobs (rows
 * written), rate, drained, timeline, serverCpu, brokerCpu, rows, counts (at the end) }.
 */
async function drain(queue, rows, from, serverPid, backend) {
  const server0 = ticks(`/proc/${serverPid}/stat`);
  const broker0 = brokerTicks(backend);
  let last = { rows: from.rows, at: from.at, server: server0, broker: broker0 };
  let counts = from.counts;
  const deadline = from.at + opts.drainTimeout * 1000;
  // [seconds since the load stopped, rows written since], about once a second: how the rate moves.
  const timeline = [];
  let drained = false;
  for (;;) {
    const n = rows.count();
    const at = performance.now();
    if (n !== last.rows)
      last = { rows: n, at, server: ticks(`/proc/${serverPid}/stat`), broker: brokerTicks(backend) };
    if ((at - from.at) / 1000 >= timeline.length + 1)
      timeline.push([Math.round(at - from.at) / 1000, n - from.rows]);
    if (pending(counts) === 0 && at - last.at >= SETTLE_MS) {
      drained = true;
      break;
    }
    if (at > deadline) break;
    await sleep(100);
    counts = await queue.counts();
  }
  const seconds = (last.at - from.at) / 1000;
  const jobs = last.rows - from.rows;
  const pct = (a, b) =>
    a !== undefined && b !== undefined && seconds > 0 ? ((b - a) / clockTicks() / seconds) * 100 : undefined;
  return {
    seconds,
    jobs,
    rate: seconds > 0 ? jobs / seconds : undefined,
    drained,
    timeline,
    serverCpu: pct(server0, last.server),
    brokerCpu: pct(broker0, last.broker),
    rows: last.rows,
    counts,
  };
}

let openQueue;
/** The handle of the runner's own on the service's queue at `url`: openJobQueue from weir's build (dist/). */
async function serviceQueue(url) {
  openQueue ??= (await import(pathToFileURL(join(ROOT, 'dist', 'queue', 'index.js')).href)).openJobQueue;
  return countable(await openQueue(SERVICE_QUEUE, { url }), url);
}

/** Deletes the service queue's broker queues or streams at `url` through a handle of its own. */
async function destroyServiceQueue(url) {
  const handle = await serviceQueue(url);
  try {
    await handle.destroy();
  } finally {
    await handle.close();
  }
}

/** Where the load leaves the service: welcome_emails' rows, the queue's counts, the time. */
const snapshot = async (queue, rows) => ({
  rows: rows.count(),
  counts: await queue.counts(),
  at: performance.now(),
});

async function runHttp(c, { dir, pin, rawBase }) {
  const broker = isBroker(c.backend);
  const queueUrl = broker ? opts[c.backend] : `sqlite:${join(dir, 'queue.db')}`;
  const lua = join(dir, 'post.lua');
  writeFileSync(lua, LUA);
  // A broker's welcome-emails queue outlives the service: every case starts it empty.
  if (broker) await destroyServiceQueue(queueUrl);
  const server = await startServer({
    name: 'reference service',
    argv: [...pin.server, process.execPath, ...SERVICE_ARGV],
    env: {
      PORT: String(opts.port),
      HOST,
      NODE_ENV: 'production',
      DATABASE_URL: `sqlite:${join(dir, 'weir.db')}`,
      QUEUE_URL: queueUrl,
    },
    port: opts.port,
    probe: async () => {
      const res = await get(opts.port, '/healthz', 5000);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    },
    log: [],
  });
  let queue;
  let rows;
  try {
    queue = await serviceQueue(queueUrl);
    rows = emailRows(join(dir, 'weir.db'));
    await checkService(c, queue, rows);
    const pid = server.child.pid;
    let warmup;
    if (opts.warmup > 0) {
      const warm = await measureWrk(wrkArgs(pin, opts.warmup, lua), opts.warmup);
      writeFileSync(`${rawBase}-warmup.txt`, `$ ${warm.command}\n${warm.text}`);
      // The measured run starts with an empty queue: the warm-up's backlog is drained first.
      warmup = await drain(queue, rows, await snapshot(queue, rows), pid, c.backend);
      if (!warmup.drained)
        throw new Error(`the warm-up's backlog was not drained within ${opts.drainTimeout} s`);
    }
    const before = await snapshot(queue, rows);
    const run = await measureWrk(wrkArgs(pin, opts.duration, lua), opts.duration, pid, {
      machine: () => statTicks('cpu')?.busy,
      broker: () => brokerTicks(c.backend),
    });
    const after = await snapshot(queue, rows);
    const parsed = parseWrk(run.text);
    const drained = await drain(queue, rows, after, pid, c.backend);
    // Every job the load added has its row once drained (or is still pending at a timeout).
    const added = drained.rows - before.rows + pending(drained.counts);
    writeFileSync(
      `${rawBase}.txt`,
      `$ ${run.command}\n${run.text}\n# CPU, % of one core: ${JSON.stringify(run.cpu)}\n# before the load: ${JSON.stringify(before)}\n# after the load: ${JSON.stringify(after)}\n# drain: ${JSON.stringify(drained)}\n# warm-up drain: ${JSON.stringify(warmup)}\n`,
    );
    if (server.isDead()) throw new Error(`the service died during the run:\n${server.log.join('')}`);
    const ok = (parsed.requests ?? 0) - parsed.non2xx;
    return {
      ...parsed,
      ok,
      rowsBefore: before.rows,
      added,
      // SQLite's own count of the jobs added, to hold against the rows.
      queueAdded: broker ? undefined : total(drained.counts) - total(before.counts),
      completedDuringLoad: after.rows - before.rows,
      backlog: added - (after.rows - before.rows),
      drain: drained,
      warmupDrain: warmup,
      cpu: run.cpu ?? {},
    };
  } finally {
    rows?.close();
    await stopServer(server);
    writeFileSync(`${rawBase}-server.log`, server.log.join(''));
    try {
      if (broker && queue) await queue.destroy();
      else if (broker) await destroyServiceQueue(queueUrl);
    } finally {
      await queue?.close();
    }
  }
}

/** The service's warnings and errors (pino levels 40 and above) from its log. */
function serverWarnings(file) {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => {
        const level = /"level":(\d+)/.exec(line);
        return level ? Number(level[1]) >= 40 : /\b(warn|error)/i.test(line);
      });
  } catch {
    return [];
  }
}

// ----------------------------------------------------------------------------------------------- report

const fmtRate = (n) => fmtInt(n);
const fmtS = (n) => (n === undefined ? 'n/a' : n.toFixed(2));
/** A URL with its password masked. */
const shownUrl = (url) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');

function writeReport(summary) {
  const { facts, results, order, pin, rawDir } = summary;
  const o = summary.opts;
  const cases = casesOf(o);
  const byRound = (id) => [...(results[id] ?? [])].sort((a, b) => a.round - b.round);
  const { p, row, write } = markdown(NAME);
  const enqueue = cases.filter((c) => c.kind === 'enqueue');
  const processing = cases.filter((c) => c.kind === 'process');
  const https = cases.filter((c) => c.kind === 'http');
  const keys = TARGETS.filter((k) => cases.some((c) => c.key === k));
  const brokers = o.backends.filter(isBroker);
  const hasSqlite = o.backends.includes('sqlite');
  const httpOf = (key) => https.find((c) => c.key === key)?.id;
  const column = (c) => TARGET_LABEL[c.key];

  p('# weir job queue benchmark results');
  p();
  p('Generated by `bench/queue.mjs`; do not edit by hand, re-run it. See `bench/README.md`.');
  p();
  p('## Summary');
  p();
  // "N jobs on SQLite, M on a broker", for the backends of this run.
  const bound = (sqlite, broker) =>
    [hasSqlite && `${fmtInt(sqlite)} on SQLite`, brokers.length > 0 && `${fmtInt(broker)} on a broker`]
      .filter(Boolean)
      .join(', ')
      .replace(/^([\d,]+)/, '$1 jobs');
  p(
    `The median of ${o.rounds} round(s) per cell; every round is listed below. Enqueue: jobs added per second (at most ${bound(o.jobs, o.brokerJobs)}, or ${o.enqueueSeconds} s, per measurement). Process: jobs completed per second by no-op handlers, after ${bound(o.processJobs, o.brokerProcessJobs)} were added. HTTP: the reference service under \`wrk -c${o.connections}\` for ${o.duration} s, req/s and p99, with \`QUEUE_URL\` on the backend (SQLite at its default, \`full\`); then the jobs/s of its in-process worker (concurrency ${SERVICE_WORKER_CONCURRENCY}) draining the backlog once the load stopped, counted in the rows it writes (one per job).`,
  );
  p();
  const medianCell = (id, value, fmt = fmtRate) => {
    const runs = id === undefined ? [] : byRound(id);
    return runs.length > 0 ? fmt(median(runs.map(value))) : '—';
  };
  const matrix = [];
  if (enqueue.length > 0)
    matrix.push(
      [
        label({ kind: 'enqueue', producers: 1 }, o),
        'jobs/s',
        (k) => medianCell(`enqueue-1-${k}`, (r) => r.rate),
      ],
      [
        label({ kind: 'enqueue', producers: o.producers }, o),
        'jobs/s',
        (k) => medianCell(`enqueue-${o.producers}-${k}`, (r) => r.rate),
      ],
    );
  if (processing.length > 0)
    matrix.push(
      [
        label({ kind: 'process', consumers: 1 }, o),
        'jobs/s',
        (k) => medianCell(`process-1-${k}`, (r) => r.rate),
      ],
      [
        label({ kind: 'process', consumers: 2 }, o),
        'jobs/s',
        (k) => medianCell(`process-2-${k}`, (r) => r.rate),
      ],
    );
  if (https.length > 0)
    matrix.push(
      [label({ kind: 'http' }, o), 'req/s', (k) => medianCell(httpOf(k), (r) => r.rps)],
      ['HTTP p99 latency', 'ms', (k) => medianCell(httpOf(k), (r) => r.p99, fmtMs)],
      [
        `drain of the backlog after the load (the service's worker, concurrency ${SERVICE_WORKER_CONCURRENCY})`,
        'jobs/s',
        (k) => medianCell(httpOf(k), (r) => r.drain.rate),
      ],
    );
  row(['measurement', ...keys.map((k) => TARGET_LABEL[k]), 'unit']);
  row(['---', ...keys.map(() => '---:'), '---']);
  for (const [name, unit, cell] of matrix) row([name, ...keys.map(cell), unit]);
  p();
  if (results['enqueue-1-sqlite-full'] && results['enqueue-1-sqlite-normal']) {
    // normal ÷ full, the median of the per-round ratios.
    const ratio = (producers) =>
      median(
        byRound(`enqueue-${producers}-sqlite-normal`).map(
          (r, i) => r.rate / byRound(`enqueue-${producers}-sqlite-full`)[i].rate,
        ),
      );
    p(
      `SQLite \`normal\` ÷ \`full\`, the median of the per-round ratios: ${ratio(1).toFixed(2)}× for sequential adds, ${ratio(o.producers).toFixed(2)}× for ${o.producers} concurrent producers.`,
    );
    p();
  }
  p('### Every case, median and rounds');
  p();
  row(['measurement', 'backend', 'median', 'per round', 'unit']);
  row(['---', '---', '---:', '---', '---']);
  const summaryRow = (name, c, values, unit) =>
    row([name, column(c), fmtRate(median(values)), values.map(fmtRate).join(' · '), unit]);
  for (const c of [...enqueue, ...processing])
    summaryRow(
      label(c, o),
      c,
      byRound(c.id).map((r) => r.rate),
      'jobs/s',
    );
  for (const c of https) {
    const runs = byRound(c.id);
    summaryRow(
      label(c, o),
      c,
      runs.map((r) => r.rps),
      'req/s',
    );
    summaryRow(
      'drain after the load',
      c,
      runs.map((r) => r.drain.rate),
      'jobs/s',
    );
  }
  p();

  machineAndCommand(p, summary, {
    tools: [
      ['better-sqlite3', `${facts.betterSqlite3} (SQLite ${facts.sqlite})`],
      ...(brokers.includes('amqp')
        ? [['RabbitMQ', `${facts.rabbitmq} at \`${shownUrl(o.amqp)}\`, through amqplib ${facts.amqplib}`]]
        : []),
      ...(brokers.includes('nats')
        ? [
            [
              'NATS',
              `${facts.nats} at \`${o.nats}\`, through @nats-io/transport-node and jetstream ${facts.natsClient}`,
            ],
          ]
        : []),
      ['tsx', `${facts.tsx} (the library cases run from source through it)`],
      [
        'temporary folder',
        `${facts.tmp} (${facts.filesystem}): every SQLite file${facts.brokerDisk ? `; the brokers' data: ${facts.brokerDisk}` : ''}`,
      ],
    ],
    more: [
      [
        'src/ when copied and built',
        facts.srcChanges === undefined
          ? 'not recorded'
          : facts.srcChanges.length > 0
            ? `the commit plus uncommitted changes: ${facts.srcChanges.map((l) => `\`${l.trim()}\``).join(', ')}`
            : 'the commit, no uncommitted change',
      ],
    ],
    weir:
      https.length > 0
        ? 'library cases from source (src/, through tsx); the HTTP cases the reference service compiled as for production: `npm run build` (dist/), examples/service compiled by `tsc` into bench/.build/service/, run as `node bench/.build/service/main.js`'
        : 'from source (src/, through tsx)',
  });
  p('which ran:');
  p();
  p('```sh');
  const pin0 = pin.pinned ? 'taskset -c 0 ' : '';
  const pin1 = pin.pinned ? 'taskset -c 1 ' : '';
  const childCmd = 'node --conditions=weir-source --import tsx bench/queue.mjs';
  if (enqueue.length > 0)
    p(`BENCH_QUEUE_CHILD=enqueue ${pin0}${childCmd}   # one per case and round, on a queue of its own`);
  if (processing.length > 0) {
    p(`BENCH_QUEUE_CHILD=fill ${pin0}${childCmd}      # adds the jobs, then exits`);
    p(`BENCH_QUEUE_CHILD=consume ${pin0}${childCmd}   # the consumer (the first of two)`);
    p(`BENCH_QUEUE_CHILD=consume ${pin1}${childCmd}   # the second consumer, with 2`);
  }
  if (brokers.length > 0 && enqueue.length + processing.length > 0)
    p(`BENCH_QUEUE_CHILD=destroy ${childCmd}   # after each broker case: destroy() of its queue`);
  if (https.length > 0) {
    const queueUrls = https.map((c) =>
      isBroker(c.backend) ? shownUrl(o[c.backend]) : 'sqlite:<tmp>/queue.db',
    );
    p(
      `${pin.server.join(' ')} node bench/.build/service/main.js   # PORT=${o.port} HOST=${HOST} NODE_ENV=production DATABASE_URL=sqlite:<tmp>/weir.db QUEUE_URL=${queueUrls.join(' | ')}`.trim(),
    );
    const shown = (seconds) => wrkArgs(pin, seconds, '<tmp>/post.lua').join(' ');
    if (o.warmup > 0) p(`${shown(o.warmup)}   # warm-up, discarded`);
    p(`${shown(o.duration)}   # measured`);
  }
  p('```');
  if (https.length > 0) {
    p();
    p('with `post.lua`:');
    p();
    p('```lua');
    p(LUA.trim());
    p('```');
  }
  p();

  p('## Method');
  p();
  if (hasSqlite)
    p(
      "- **SQLite**: `openJobQueue(name, { url: 'sqlite:<tmp>/queue.db', durability })`, one file in WAL mode (better-sqlite3, synchronous, one connection per process). `durability: 'full'` (the default) sets `synchronous=FULL`: every commit waits for an fsync of the WAL, so an added job survives a power loss; `'normal'` sets `synchronous=NORMAL`: the WAL is synced only at checkpoints, so a job survives a crash of the process but maybe not of the machine. Writes made in one event-loop turn (adds, job outcomes) share one transaction (group commit), so one fsync; a claim (`UPDATE … RETURNING` of up to the free slots, through a partial index of the ready jobs in claim order) is its own transaction.",
    );
  if (brokers.includes('amqp'))
    p(
      "- **RabbitMQ**: `openJobQueue(name, { url: 'amqp://…' })`: a durable classic queue `weir.<name>` (priorities 0…9) and its dead-letter queue; `add()` publishes a persistent message on a confirm channel and resolves on the broker's confirm, which RabbitMQ sends once the message is written to disk (fsyncs batched over what arrives together). A consumer's prefetch is its concurrency; it acks each job after its handler (no confirm awaited). The runner reads the queue's ready messages from the broker as `waiting` (unacked ones are in no count; RabbitMQ reports no `active` and keeps no completed jobs; weir's RabbitMQ queue offers no `counts()`).",
    );
  if (brokers.includes('nats'))
    p(
      "- **NATS JetStream**: `openJobQueue(name, { url: 'nats://…' })`: a work-queue stream `WEIR_<name>` (file storage) with one durable pull consumer, and a dead-letter stream; `add()` publishes and resolves on the stream's ack, which JetStream sends once the message is in its file store, not fsynced (by default the server syncs its files every 2 minutes, `sync_interval`). A consumer fetches up to its free slots per pull and acks each job with `ackAck()` (a round trip to the server). The runner reads the consumer's pending and ack-pending messages from the server as `waiting` and `active` (weir's NATS queue offers no `counts()`).",
    );
  p(
    `- **Library cases** run in a child process each: \`node --conditions=weir-source --import tsx bench/queue.mjs\` (this file, in its child mode), which imports \`src/queue/index.ts\` (what the \`weir-source\` condition maps \`weir/queue\` to) from a copy of src/ the runner takes at its start, once src/ has not changed for 60 s (the HTTP cases' build is made right after), and reports over IPC. Every case and round gets a queue of its own name (\`weir-bench-<runner pid>-<random>-r<round>-<case>\`), on SQLite in a new file in a fresh folder; on a broker, its queues or streams are deleted after the case by \`destroy()\` (a child of its own). The job is \`${JOB_BODY}\`, as POST /jobs carries it. ${pin.pinned ? 'The child is pinned to core 0; with two consumers the second is pinned to core 1.' : 'Unpinned (one core).'} The runner itself (idle but for IPC) and the brokers are not pinned: a broker shares both cores with the children, and its CPU (of \`beam.smp\` for RabbitMQ, \`nats-server\` for NATS, from /proc) is listed next to theirs.`,
  );
  p(
    `- **Enqueue**: ${ENQUEUE_WARMUP_JOBS} adds first (discarded, same shape), then the measurement: **sequential**, one producer awaiting each \`add()\` before the next (so one commit or confirm per job), and **${o.producers} concurrent producers**, each awaiting its own \`add()\` in a loop, up to ${bound(o.jobs, o.brokerJobs)}, or ${o.enqueueSeconds} s, whichever comes first; jobs/s = jobs ÷ elapsed. Each add's latency (call to resolution) gives p50/p99. Checked after: \`counts().waiting\` equals the jobs added.`,
  );
  p(
    `- **Process**: a first child adds ${bound(o.processJobs, o.brokerProcessJobs)} (${FILL_BATCH} at a time; on SQLite one transaction per batch) and exits; then ${pin.pinned ? 'one consumer process (core 0), or two at once (cores 0 and 1) on the same queue' : 'one consumer process, or two at once on the same queue'}, each \`queue.process(() => undefined, { concurrency: ${o.concurrency} })\`, started together by one message from the runner. Elapsed = from the earliest start to the last moment any consumer's \`processed\` count (outcomes committed, acked) moved, read every 2 ms; jobs/s = jobs ÷ elapsed. Checked after: as many jobs processed as added, none waiting, active, failed or dead (and on SQLite all completed). At most ${o.processTimeout} s.`,
  );
  if (https.length > 0)
    p(
      `- **HTTP**: the reference service compiled as for production (as bench/db.mjs runs it), one process ${pin.pinned ? 'pinned to core 0 ' : ''}with \`DATABASE_URL=sqlite:<tmp>/weir.db\` (fresh per case and round) and \`QUEUE_URL\` on the backend: \`sqlite:<tmp>/queue.db\` (fresh; at the default durability, \`full\`: the service passes none), or the broker. Its queue is \`${SERVICE_QUEUE}\` (a fixed name); on a broker the runner deletes that queue's queues or streams with \`destroy()\` before the service starts and after it stopped, through a handle of its own (weir from dist/). Its welcome-email worker runs in the same process (concurrency ${SERVICE_WORKER_CONCURRENCY}: per job \`sleep(workMs = 0)\`, one INSERT into weir.db's \`welcome_emails\`, then the outcome: a commit in queue.db, an ack). wrk, one thread, ${o.connections} connections${pin.pinned ? ', pinned to core 1' : ''}, POSTs \`${JOB_BODY}\` to /jobs. Per case and round: start, check (POST /jobs → 202, \`{ id }\`, \`Location: /jobs/<id>\`, the worker's row for that job; GET /jobs/<id> → completed on SQLite, 501 \`JOB_STATUS_UNAVAILABLE\` on a broker; a bad address → 400; the runner's handle sees no job left), ${o.warmup > 0 ? `a ${o.warmup} s warm-up (discarded) and the wait until its backlog is drained, ` : ''}the ${o.duration} s measured run, then the drain.`,
    );
  if (https.length > 0)
    p(
      `- **Drain**, the same on every backend: the runner counts the rows of \`welcome_emails\` (one per job, written by the worker; read-only connection of its own to weir.db) every 100 ms, and reads the queue's \`counts()\` through its handle after each count. The drain is over once \`counts()\` shows nothing waiting or running (waiting + active + failed = 0; RabbitMQ counts only waiting, so its last in-flight jobs are covered by the next condition) and no row has been written for ${SETTLE_MS / 1000} s; it ends at the count that last moved (±100 ms), and at most ${o.drainTimeout} s after the load. Drain jobs/s = rows written from the end of the load until then ÷ that time, the service otherwise idle. Jobs added by the load = rows after the drain − rows before the load (checked on SQLite against the queue's own count, and against wrk's 2xx answers: no job answered 202 may be missing).`,
    );
  p(
    `- **${o.rounds} round(s)**, the cases' order rotated every round (round 1: ${(order[0] ?? []).join(' → ')}). Reported: the median per case (of jobs/s, of req/s, of p99, of drain jobs/s, each on its own). CPU from /proc and \`process.cpuUsage()\`, in % of one core; "machine" is all cores together (of ${facts.nproc * 100} %).`,
  );
  p();

  // A table of every round of the library cases `list`: what ran, then `columns` ([heading, cell(result)]),
  // then the CPU columns.
  const libraryTable = (title, list, columns) => {
    if (list.length === 0) return;
    const all = [
      ['case', (_r, c) => label(c, o)],
      ['backend', (_r, c) => column(c)],
      ['round', (r) => r.round],
      ...columns,
      ['broker CPU', (r) => fmtPct(r.cpu.broker)],
      ['machine CPU', (r) => fmtPct(r.cpu.machine)],
      ['steal', (r) => fmtPct(r.cpu.steal)],
    ];
    p(`## ${title}, every round`);
    p();
    row(all.map(([heading]) => heading));
    row(all.map((_, i) => (i < 2 ? '---' : '---:')));
    for (const c of list) for (const r of byRound(c.id)) row(all.map(([, cell]) => cell(r, c)));
    p();
  };
  libraryTable('Enqueue', enqueue, [
    ['jobs', (r) => `${fmtInt(r.jobs)}${r.byTime ? ' (time)' : ''}`],
    ['seconds', (r) => fmtS(r.seconds)],
    ['jobs/s', (r) => fmtRate(r.rate)],
    ['add p50 ms', (r) => fmtMs(r.p50)],
    ['add p99 ms', (r) => fmtMs(r.p99)],
    ['add max ms', (r) => fmtMs(r.max)],
    ['child CPU', (r) => fmtPct(r.cpu.child)],
  ]);
  libraryTable('Process', processing, [
    ['jobs', (r) => fmtInt(r.jobs)],
    ['fill s', (r) => fmtS(r.fillSeconds)],
    ['seconds', (r) => fmtS(r.seconds)],
    ['jobs/s', (r) => fmtRate(r.rate)],
    ['jobs per consumer', (r) => r.split.map(fmtInt).join(' + ')],
    ['consumers CPU', (r) => fmtPct(r.cpu.child)],
  ]);
  if (https.length > 0) {
    p('## HTTP, every round');
    p();
    p(
      `\`POST /jobs\` under wrk. "rows before": rows in \`welcome_emails\` when the load started (the check's and the warm-up's jobs, all done); "jobs added": rows written for the load's jobs once drained (it can exceed the 2xx answers by the requests in flight when wrk stopped); "done during load": rows written while wrk ran; "backlog": jobs added less those.`,
    );
    p();
    row([
      'backend',
      'round',
      'req/s',
      'p50 ms',
      'p99 ms',
      '2xx',
      'non-2xx',
      'socket errors',
      'rows before',
      'jobs added',
      'done during load',
      'backlog at end',
      'drain s',
      'drain jobs/s',
      'server CPU (load)',
      'broker CPU (load)',
      'server CPU (drain)',
      'broker CPU (drain)',
      'wrk CPU',
      'machine CPU (load)',
    ]);
    row(['---', ...Array(19).fill('---:')]);
    for (const c of https)
      for (const r of byRound(c.id))
        row([
          column(c),
          r.round,
          fmtInt(r.rps),
          fmtMs(r.p50),
          fmtMs(r.p99),
          fmtInt(r.ok),
          r.non2xx,
          r.socketErrors,
          fmtInt(r.rowsBefore),
          fmtInt(r.added),
          fmtInt(r.completedDuringLoad),
          fmtInt(r.backlog),
          `${fmtS(r.drain.seconds)}${r.drain.drained ? '' : ' (timeout)'}`,
          fmtRate(r.drain.rate),
          fmtPct(r.cpu.server),
          fmtPct(r.cpu.broker),
          fmtPct(r.drain.serverCpu),
          fmtPct(r.drain.brokerCpu),
          fmtPct(r.cpu.wrk),
          fmtPct(r.cpu.machine),
        ]);
    p();
    const warm = https.flatMap((c) =>
      byRound(c.id)
        .filter((r) => r.warmupDrain)
        .map(
          (r) =>
            `${column(c)} round ${r.round} ${fmtInt(r.warmupDrain.jobs)} jobs in ${fmtS(r.warmupDrain.seconds)} s (${fmtRate(r.warmupDrain.rate)} jobs/s)`,
        ),
    );
    if (warm.length > 0) p(`The warm-ups' backlogs, drained before each measured run: ${warm.join('; ')}.`);
    p();
  }

  p('## Caveats');
  p();
  p(
    `- **Durable does not mean the same thing on every backend.** A resolved \`add()\` is on disk, fsynced, with SQLite \`full\` (each commit) and RabbitMQ (its confirm waits for the write to disk, fsyncs batched); it is written but not fsynced with SQLite \`normal\` (synced at checkpoints) and NATS JetStream (synced every 2 minutes by default): those survive a crash of the process that holds them, not necessarily of the machine. fsync here is the hypervisor's: the files are on ${facts.filesystem}, a virtual disk, so what an fsync costs, and so the gap between the two groups, says little about a physical disk. Sequential adds are the number that moves most with it.`,
  );
  if (brokers.length > 0)
    p(
      "- **The brokers share this 2-core machine.** Each is one local node with no replication, over loopback: a broker `add()` is a round trip to another process plus its work, and its CPU (\"broker CPU\") comes from the same two cores as the children's and, in the HTTP cases, the service's and wrk's. On a machine of their own, brokers would have more room; a 2-core box running both the application and its broker is what these numbers describe.",
    );
  if (processing.some((c) => c.consumers === 2)) {
    const pairs = keys
      .filter((k) => results[`process-1-${k}`] && results[`process-2-${k}`])
      .map((k) => {
        const one = byRound(`process-1-${k}`);
        const two = byRound(`process-2-${k}`);
        const ratio = median(two.map((r, i) => r.rate / one[i].rate));
        return `${TARGET_LABEL[k]} ${ratio.toFixed(2)}× the single consumer's jobs/s, on ${fmtPct(median(two.map((r) => r.cpu.child)))} of a core between them (one consumer: ${fmtPct(median(one.map((r) => r.cpu.child)))})${k in BROKER_PROCESS ? `, the broker at ${fmtPct(median(two.map((r) => r.cpu.broker)))} (with one: ${fmtPct(median(one.map((r) => r.cpu.broker)))})` : ''}`;
      });
    p(
      `- **Two consumer processes against one** (medians of the per-round ratios): ${pairs.join('; ')}. On SQLite the two${pin.pinned ? ', one per core,' : ''} take turns at the file's single write lock (every claim and every group commit takes it; a writer that finds it taken sleeps in SQLite's busy handler, its event loop blocked). On a broker they share its deliveries, and the broker is a third busy process on two cores. How the jobs split between the two varies from round to round ("jobs per consumer").`,
    );
  }
  p(
    "- The library cases run from source through tsx (esbuild strips the types when a module loads); the code that runs is the same as dist/'s but for the transpiler. The HTTP cases run the compiled build.",
  );
  if (https.length > 0) {
    p(
      `- During the load the service's worker runs in the same process (and on the same core) as the HTTP server, so the req/s include its work on the jobs it finished meanwhile ("done during load"); on SQLite, better-sqlite3 is synchronous, so the queue's claims and commits (with their fsyncs) hold the event loop, and so do the worker's INSERTs into weir.db on every backend. On a broker, GET /jobs/:id answers 501: a broker keeps no per-job status, which is why the drain is counted in \`welcome_emails\`.`,
    );
    const warned = Object.entries(summary.warnings ?? {}).filter(([, lines]) => lines.length > 0);
    p(
      warned.length > 0
        ? `- **The service logged warnings or errors**: ${warned.map(([k, lines]) => `${k}: ${lines.length} line(s), first ${JSON.stringify(lines[0].slice(0, 300))}`).join('; ')}.`
        : "- The service logged no warning and no error (but for the expected 501 of the check's GET /jobs/:id on a broker, which it logs at level 50 as it does every 5xx, left out here).",
    );
    const runs = https.flatMap((c) => byRound(c.id).map((r) => [c, r]));
    const errors = runs.filter(([, r]) => r.socketErrors > 0 || r.non2xx > 0);
    p(
      errors.length > 0
        ? `- **wrk reported errors**: ${errors.map(([c, r]) => `${column(c)} round ${r.round}: ${r.socketErrorText} non-2xx ${r.non2xx}`).join('; ')}.`
        : '- wrk reported no socket errors and no non-2xx responses in any measured run.',
    );
    const lost = runs.filter(([, r]) => r.added < r.ok);
    const mismatch = runs.filter(([, r]) => r.queueAdded !== undefined && r.queueAdded !== r.added);
    p(
      lost.length > 0
        ? `- **Jobs answered 202 without a row**: ${lost.map(([c, r]) => `${column(c)} round ${r.round}: ${fmtInt(r.added)} rows for ${fmtInt(r.ok)} 2xx`).join('; ')}.`
        : '- Every job answered 202 got its row: in every round, jobs added ≥ 2xx answers.',
    );
    if (mismatch.length > 0)
      p(
        `- **SQLite's queue and the rows disagree**: ${mismatch.map(([c, r]) => `${column(c)} round ${r.round}: queue ${fmtInt(r.queueAdded)}, rows ${fmtInt(r.added)}`).join('; ')}.`,
      );
    // A round whose p99 is far from the others' (a checkpoint, a stall of the broker, the hypervisor).
    const outliers = https.flatMap((c) => {
      const p99 = median(byRound(c.id).map((r) => r.p99));
      return byRound(c.id)
        .filter((r) => r.p99 > 3 * p99)
        .map(
          (r) =>
            `${column(c)} round ${r.round}: ${fmtMs(r.p99)} ms (p50 ${fmtMs(r.p50)} ms) against a median p99 of ${fmtMs(p99)} ms`,
        );
    });
    if (outliers.length > 0)
      p(`- **p99 outliers**: ${outliers.join('; ')}; the summary gives the median of the rounds' p99s.`);
    const drains = https.map((c) => {
      const rs = byRound(c.id);
      return `${column(c)} ${fmtRate(median(rs.map((r) => r.rps)))} req/s, drained at ${fmtRate(median(rs.map((r) => r.drain.rate)))} jobs/s on ${fmtPct(median(rs.map((r) => r.drain.serverCpu)))} of the service's core${isBroker(c.backend) ? ` (broker ${fmtPct(median(rs.map((r) => r.drain.brokerCpu)))})` : ''}`;
    });
    p(
      `- **The load adds jobs faster than the worker drains them** (medians): ${drains.join('; ')}. The worker runs ${SERVICE_WORKER_CONCURRENCY} jobs at a time, each waiting for its INSERT and then its outcome (a commit, an ack); where the service is far from a full core while draining, those waits, not CPU, bound the drain (a larger \`concurrency\` in examples/service/jobs.ts might move it; not measured here).`,
    );
    const timeouts = runs.filter(([, r]) => !r.drain.drained);
    if (timeouts.length > 0)
      p(
        `- **The drain did not finish within ${o.drainTimeout} s**: ${timeouts.map(([c, r]) => `${column(c)} round ${r.round}`).join('; ')}; there the drain jobs/s is of the jobs done until the timeout.`,
      );
  }
  const all = Object.values(results).flat();
  const steal = Math.max(0, ...all.map((r) => r.cpu?.steal ?? 0));
  if (steal >= 5)
    p(
      `- The hypervisor stole up to ${fmtPct(steal)} of a core during a library measurement: compare the rounds before trusting a difference of a few percent.`,
    );
  const timed = enqueue.flatMap((c) =>
    byRound(c.id)
      .filter((r) => r.byTime)
      .map((r) => `${label(c, o)} ${column(c)} round ${r.round}`),
  );
  if (timed.length > 0)
    p(
      `- Enqueue measurements stopped by the ${o.enqueueSeconds} s bound before their most jobs: ${timed.join('; ')}.`,
    );
  const waited = Object.entries(summary.waited ?? {}).filter(([, s]) => s > 1);
  if (waited.length > 0)
    p(
      `- The runner waited for another bench runner or test run to finish before: ${waited.map(([k, s]) => `${k} (${Math.round(s)} s)`).join('; ')}.`,
    );
  if ((summary.cleanup ?? []).length > 0)
    p(`- **A broker queue could not be deleted after its case**: ${summary.cleanup.join('; ')}.`);
  p();
  p(`Raw outputs (wrk, child and server logs) are in \`${relative(BENCH_DIR, rawDir)}/\` (gitignored).`);
  p();
  write(opts.out);
}

// ------------------------------------------------------------------------------------------------- main

async function main() {
  parseOptions();
  if (flags.rerender !== undefined) return rerenderReport({ name: NAME, flags, opts }, writeReport);
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
  try {
    await waitForQuiet();
    await waitForStableSource();
  } catch (err) {
    fail(err.message);
  }
  if (cases.some((c) => c.kind !== 'http')) snapshotSource(workDir);
  if (needsHttp) buildService({ name: NAME, fail });
  const facts = {
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
  };
  const run = beginRun({ script: 'queue', name: NAME }, { facts, pin });
  console.log(
    `${NAME}: ${cases.map((c) => c.id).join(', ')} × ${opts.rounds} round(s); raw outputs in ${relative(process.cwd(), run.rawDir)}/`,
  );

  const results = Object.fromEntries(cases.map((c) => [c.id, []]));
  const order = [];
  const warnings = {};
  const waited = {};
  const cleanup = [];
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      const ordered = rotation(cases, round);
      order.push(ordered.map((c) => c.id));
      for (const c of ordered) {
        const key = `${c.id} round ${round}`;
        waited[key] = await waitForQuiet();
        const dir = join(workDir, `r${round}-${c.id}`);
        mkdirSync(dir);
        const rawBase = join(run.rawDir, `r${round}-${c.id}`);
        const queue = c.kind === 'http' ? undefined : caseQueue(c, dir, round);
        try {
          const runCase = c.kind === 'enqueue' ? runEnqueue : c.kind === 'process' ? runProcess : runHttp;
          const r = { round, ...(await runCase(c, { queue, dir, pin, rawBase })) };
          results[c.id].push(r);
          if (c.kind === 'http') warnings[key] = serverWarnings(`${rawBase}-server.log`);
          console.log(
            `${NAME}: round ${round} ${c.id.padEnd(24)} ${
              c.kind === 'http'
                ? `${fmtInt(r.rps)} req/s  p50 ${fmtMs(r.p50)} ms  p99 ${fmtMs(r.p99)} ms  non-2xx ${r.non2xx}  added ${fmtInt(r.added)}  backlog ${fmtInt(r.backlog)} drained in ${fmtS(r.drain.seconds)} s = ${fmtInt(r.drain.rate)} jobs/s  server ${fmtPct(r.cpu.server)}  broker ${fmtPct(r.cpu.broker)}`
                : `${fmtInt(r.rate).padStart(7)} jobs/s  (${fmtInt(r.jobs)} jobs in ${fmtS(r.seconds)} s)  child CPU ${fmtPct(r.cpu.child)}  broker ${fmtPct(r.cpu.broker)}  machine ${fmtPct(r.cpu.machine)}${r.split ? `  split ${r.split.join(' + ')}` : ''}${r.p50 !== undefined ? `  add p50 ${fmtMs(r.p50)} ms p99 ${fmtMs(r.p99)} ms` : ''}`
            }`,
          );
        } finally {
          if (queue && isBroker(c.backend))
            await destroyQueue(queue, rawBase).catch((err) => {
              cleanup.push(`${key}: ${err.message.split('\n')[0]}`);
              console.error(`${NAME}: could not delete the queue ${queue.name}: ${err.message}`);
            });
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
  } catch (err) {
    killLive();
    fail(err instanceof Error ? err.stack : String(err));
  }
  finishRun({ name: NAME, opts }, run, { results, order, warnings, waited, cleanup }, writeReport);
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
