// The library cases of bench/queue.mjs, enqueue and process: each measured in child processes of its own
// (see child.mjs) on a queue of its own name, with the CPU of the machine and the broker read meanwhile.

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, cpuWindow, ROOT, reap, sleep, spawnTracked, statTicks } from '../lib.mjs';
import { brokerTicks } from './brokers.mjs';
import { enqueueJobs, isBroker, processJobs } from './cases.mjs';

/** This run's part of every queue name it makes, so that it touches no queue it did not create. */
const RUN_ID = `${process.pid}-${randomBytes(3).toString('hex')}`;

/** A library case's queue, its own: { name, url, durability }, the child's BENCH_QUEUE_CONFIG base. */
export function caseQueue(c, dir, round, o) {
  return {
    name: `weir-bench-${RUN_ID}-r${round}-${c.id}`,
    url: isBroker(c.backend) ? o[c.backend] : `sqlite:${join(dir, 'queue.db')}`,
    durability: c.durability,
  };
}

/** The machine's busy and steal ticks and the broker's, now: see machineCpu(). */
const machineSample = (backend) => ({
  at: performance.now(),
  stat: statTicks('cpu'),
  broker: brokerTicks(backend),
});

/** Busy, steal and the broker's CPU, in % of one core, between two machineSample()s. */
function machineCpu(first, last) {
  const { seconds, pct } = cpuWindow(first, last);
  if (!(seconds > 0)) return {};
  return { machine: pct('stat', 'busy'), steal: pct('stat', 'steal'), broker: pct('broker') };
}

/**
 * Starts bench/queue.mjs as a library child (`mode`, `config`) from the runner's copy of src/ (`source`),
 * pinned with `pin` (taskset's argv, or []), in the repo root (where tsx is installed). Returns { child,
 * log, wait(type, ms), exited, onProgress }: wait() resolves to the next IPC message of `type`, or rejects
 * if the child exits first or `ms` passes.
 */
function startChild(mode, config, pin, source) {
  const argv = [
    ...pin,
    process.execPath,
    '--conditions=weir-source',
    '--import',
    'tsx',
    join(BENCH_DIR, 'queue.mjs'),
  ];
  const env = {
    BENCH_QUEUE_CHILD: mode,
    BENCH_QUEUE_CONFIG: JSON.stringify(config),
    BENCH_QUEUE_SRC: source,
  };
  const { child, log, exited } = spawnTracked(argv, { cwd: ROOT, env, stdio: ['ipc'] });
  const inbox = [];
  const waiters = new Set();
  let exit;
  void exited.then((e) => {
    exit = e;
    for (const w of waiters) w.check();
  });
  const handle = { child, log, exited, onProgress: undefined };
  child.on('message', (m) => {
    if (m?.type === 'progress') return handle.onProgress?.(m);
    inbox.push(m);
    for (const w of waiters) w.check();
  });
  handle.wait = (type, ms) =>
    new Promise((done, reject) => {
      const settle = (fn, value) => {
        clearTimeout(timer);
        waiters.delete(w);
        fn(value);
      };
      const timer = setTimeout(
        () =>
          settle(reject, new Error(`${mode} child: no "${type}" within ${ms / 1000} s:\n${log.join('')}`)),
        ms,
      );
      const w = {
        check() {
          const i = inbox.findIndex((m) => m?.type === type);
          if (i !== -1) settle(done, inbox.splice(i, 1)[0]);
          else if (exit)
            settle(
              reject,
              new Error(
                `${mode} child exited (${exit.code ?? exit.signal}) before "${type}":\n${log.join('')}`,
              ),
            );
        },
      };
      waiters.add(w);
      w.check();
    });
  return handle;
}

const pinTo = (pin, core) => (pin.pinned ? ['taskset', '-c', String(core)] : []);

/** Deletes a library case's broker queue or streams (`queue` from caseQueue()) in a child of its own. */
export async function destroyQueue(queue, rawBase, source) {
  const handle = startChild('destroy', queue, [], source);
  try {
    await handle.wait('result', 60_000);
    await reap(handle);
  } finally {
    writeFileSync(`${rawBase}-destroy.log`, handle.log.join(''));
  }
}

/** Enqueue: jobs/s of one child adding jobs with `c.producers` producers; add latency p50/p99/max. */
export async function runEnqueue(c, { queue, pin, rawBase, opts, source }) {
  const jobs = enqueueJobs(c, opts);
  const config = { ...queue, producers: c.producers, jobs, seconds: opts.enqueueSeconds };
  const child = startChild('enqueue', config, pinTo(pin, 0), source);
  try {
    await child.wait('start', 120_000);
    const m0 = machineSample(c.backend);
    const r = await child.wait('result', (opts.enqueueSeconds + 120) * 1000);
    const cpu = machineCpu(m0, machineSample(c.backend));
    await reap(child);
    if (r.counts.waiting !== r.expectedWaiting)
      throw new Error(`${c.id}: ${r.counts.waiting} jobs waiting, not ${r.expectedWaiting}`);
    const { seconds, rate, p50, p99, max } = r;
    return {
      jobs: r.jobs,
      seconds,
      rate,
      p50,
      p99,
      max,
      byTime: r.jobs < jobs,
      cpu: { child: r.cpu, ...cpu },
    };
  } finally {
    writeFileSync(`${rawBase}.log`, child.log.join(''));
  }
}

/**
 * Process: jobs added by a first child, then jobs/s of `c.consumers` consumer children started together,
 * until every job is done; checked against the queue's counts.
 */
export async function runProcess(c, { queue, pin, rawBase, opts, source }) {
  const jobs = processJobs(c, opts);
  const fill = startChild('fill', { ...queue, jobs }, pinTo(pin, 0), source);
  const kids = [];
  try {
    const filled = await fill.wait('result', 300_000);
    await reap(fill);
    if (filled.counts.waiting !== jobs)
      throw new Error(`${c.id}: filled ${filled.counts.waiting}, not ${jobs}`);
    const config = { ...queue, concurrency: opts.concurrency };
    for (let i = 0; i < c.consumers; i++) kids.push(startChild('consume', config, pinTo(pin, i), source));
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
    await Promise.all(kids.map((k) => reap(k)));
    // A broker keeps no completed jobs (counts().completed is 0 there): what was processed is counted instead.
    const counts = results.at(-1).counts;
    const processed = results.reduce((sum, r) => sum + r.processed, 0);
    if (
      processed !== jobs ||
      counts.waiting + counts.active + counts.failed + counts.dead !== 0 ||
      (c.backend === 'sqlite' && counts.completed !== jobs)
    )
      throw new Error(`${c.id}: ${processed} processed, then ${JSON.stringify(counts)}; not ${jobs} done`);
    const seconds =
      (Math.max(...results.map((r) => r.end)) - Math.min(...results.map((r) => r.start))) / 1000;
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
