// The HTTP case of bench/queue.mjs: the reference service with its queue on a backend, loaded by wrk with
// POST /jobs, then the drain of the backlog its in-process worker is left with, counted in the rows the
// worker writes.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  get,
  HOST,
  measureWrk,
  parseWrk,
  percentOfCore,
  post,
  ROOT,
  SERVICE_ARGV,
  sleep,
  startServer,
  statTicks,
  stopServer,
  ticks,
  wrkCommand,
} from '../lib.mjs';
import { brokerTicks, countable, rootRequire } from './brokers.mjs';
import { isBroker, JOB_BODY, SERVICE_QUEUE, SETTLE_MS } from './cases.mjs';

export const LUA = `-- POST /jobs with the reference service's job, as a web client would send it.
wrk.method = "POST"
wrk.body = '${JOB_BODY}'
wrk.headers["Content-Type"] = "application/json"
`;

/** wrk's command line: POST /jobs, with the Lua script `lua`. */
export const wrkArgs = (pin, o, seconds, lua) => wrkCommand(pin, o, seconds, '/jobs', lua);

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
async function checkService(c, queue, rows, opts) {
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
async function drain(queue, rows, from, serverPid, backend, opts) {
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
    a !== undefined && b !== undefined && seconds > 0 ? percentOfCore(b - a, seconds) : undefined;
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

export async function runHttp(c, { dir, pin, rawBase, opts }) {
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
    await checkService(c, queue, rows, opts);
    const pid = server.child.pid;
    let warmup;
    if (opts.warmup > 0) {
      const warm = await measureWrk(wrkArgs(pin, opts, opts.warmup, lua), opts.warmup);
      writeFileSync(`${rawBase}-warmup.txt`, `$ ${warm.command}\n${warm.text}`);
      // The measured run starts with an empty queue: the warm-up's backlog is drained first.
      warmup = await drain(queue, rows, await snapshot(queue, rows), pid, c.backend, opts);
      if (!warmup.drained)
        throw new Error(`the warm-up's backlog was not drained within ${opts.drainTimeout} s`);
    }
    const before = await snapshot(queue, rows);
    const run = await measureWrk(wrkArgs(pin, opts, opts.duration, lua), opts.duration, pid, {
      machine: () => statTicks('cpu')?.busy,
      broker: () => brokerTicks(c.backend),
    });
    const after = await snapshot(queue, rows);
    const parsed = parseWrk(run.text);
    const drained = await drain(queue, rows, after, pid, c.backend, opts);
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
