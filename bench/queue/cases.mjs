// What bench/queue.mjs measures: its backends, its cases in the order of round 1, the job every case adds,
// and the reference service's settings it depends on.

export const NAME = 'bench:queue';
/** The reference service's queue (WELCOME_QUEUE in examples/service/jobs.ts). */
export const SERVICE_QUEUE = 'welcome-emails';
/** The job every case adds, as POST /jobs carries it. */
export const JOB = { to: 'a@example.com', workMs: 0 };
export const JOB_BODY = JSON.stringify(JOB);
/** The reference service's worker concurrency (JOB_LIMITS.concurrency in examples/service/jobs.ts). */
export const SERVICE_WORKER_CONCURRENCY = 8;
/** Jobs added (not measured) before an enqueue measurement, to warm the code and the store up. */
export const ENQUEUE_WARMUP_JOBS = 500;
/** The pre-fill adds this many jobs at once (on SQLite: one group-committed transaction each). */
export const FILL_BATCH = 1000;
/** A drain is over once nothing is waiting or running and no row was written for this long. */
export const SETTLE_MS = 1000;
export const BACKENDS = ['sqlite', 'amqp', 'nats'];
export const DURABILITIES = ['full', 'normal'];
export const KINDS = ['enqueue', 'process', 'http'];
/** The columns of the report: SQLite per durability, then the brokers. */
export const TARGETS = ['sqlite-full', 'sqlite-normal', 'amqp', 'nats'];
export const TARGET_LABEL = {
  'sqlite-full': 'SQLite `full`',
  'sqlite-normal': 'SQLite `normal`',
  amqp: 'RabbitMQ',
  nats: 'NATS JetStream',
};
/** A broker's process name in /proc, whose CPU the runner reads. */
export const BROKER_PROCESS = { amqp: 'beam.smp', nats: 'nats-server' };

export const isBroker = (backend) => backend !== 'sqlite';

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
 * The cases of a run with options `o`, in the order of round 1: { id, kind, key (the report's column),
 * backend, durability, producers | consumers }. The service's queue runs at SQLite's default durability,
 * `full`.
 */
export function casesOf(o) {
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

/** What a case measures, backend aside, with options `o`. */
export function label(c, o) {
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
export const enqueueJobs = (c, o) => (isBroker(c.backend) ? o.brokerJobs : o.jobs);
export const processJobs = (c, o) => (isBroker(c.backend) ? o.brokerProcessJobs : o.processJobs);

/** A URL with its password masked. */
export const shownUrl = (url) => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
