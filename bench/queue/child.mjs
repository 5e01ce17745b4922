// A library measurement of bench/queue.mjs in a child process of its own: `node --conditions=weir-source
// --import tsx bench/queue.mjs` with BENCH_QUEUE_CHILD set, talking to the runner over IPC.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from '../lib.mjs';
import { countable } from './brokers.mjs';
import { ENQUEUE_WARMUP_JOBS, FILL_BATCH, JOB } from './cases.mjs';

const now = () => performance.timeOrigin + performance.now();

/**
 * A library measurement in a child process (BENCH_QUEUE_CHILD = enqueue | fill | consume | destroy; its
 * settings in BENCH_QUEUE_CONFIG, JSON: the queue's `name`, `url` and SQLite `durability`, and the mode's),
 * run from source: `node --conditions=weir-source --import tsx`. It imports queue/index.ts by path from
 * BENCH_QUEUE_SRC, the runner's copy of src/ (bench/ is a package of its own, so `weir/queue` does not resolve
 * from here; it is the file the weir-source condition maps `weir/queue` to), and talks to the runner over IPC.
 */
export async function child(mode) {
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
