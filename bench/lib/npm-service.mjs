// The reference service as `npm start` runs it (node scripts/start.mjs), for the runners that drive it
// directly (reload.mjs, workers.mjs, deadlines.mjs, observability.mjs): SQLite files in a temporary folder, CACHE_URL=memory:, logs at warn,
// tracked so a runner that fails leaves no process behind. And the figures those runners read off wrk.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST, ROOT, sleep } from './common.mjs';
import { clockTicks, ticks } from './cpu.mjs';
import { get, runBounded, track, wrkCommand } from './processes.mjs';

/**
 * Starts the service on 127.0.0.1:`port` with `env` on top of the defaults. Returns { child, output(),
 * waitFor(test, ms), stop() }: `test` is a RegExp matched against stdout, or an async predicate; stop()
 * sends SIGTERM, SIGKILLs after 20 s, and removes the data folder.
 */
export function startNpmService({ port, env = {} }) {
  const data = mkdtempSync(join(tmpdir(), 'weir-npm-service-'));
  const child = track(
    spawn(process.execPath, [join(ROOT, 'scripts', 'start.mjs')], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(port),
        HOST,
        LOG_LEVEL: 'warn',
        CACHE_URL: 'memory:',
        DATABASE_URL: `sqlite:${join(data, 'weir.db')}`,
        QUEUE_URL: `sqlite:${join(data, 'queue.db')}`,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  return {
    child,
    output: () => out,
    async waitFor(test, ms) {
      const until = Date.now() + ms;
      const ok = typeof test === 'function' ? test : async () => test.test(out);
      while (!(await ok())) {
        if (child.exitCode !== null || Date.now() > until) throw new Error(`no ${test} in:\n${out}`);
        await sleep(50);
      }
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const gone = await Promise.race([
          new Promise((resolve) => child.once('exit', () => resolve(true))),
          sleep(20_000).then(() => false),
        ]);
        if (!gone) child.kill('SIGKILL');
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** wrk's output as numbers: requests, req/s, non-2xx, socket errors (all four kinds), p50 and p99. */
export function wrkFigures(text) {
  const num = (re) => Number(re.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  return {
    requests: num(/(\d+) requests in/),
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    non2xx: num(/Non-2xx or 3xx responses: (\d+)/),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    p50: /\s50%\s+(\S+)/.exec(text)?.[1] ?? '?',
    p99: /\s99%\s+(\S+)/.exec(text)?.[1] ?? '?',
  };
}

/**
 * Starts the service with `env` and waits (up to 2 min) for `readyPath` to answer 200, then pins every
 * thread of it to core 0 when `pin.pinned`. `label` names it in the error when it does not start.
 */
export async function startPinnedService({ port, env, pin, label, readyPath = '/db' }) {
  const service = startNpmService({ port, env });
  try {
    await service.waitFor(
      async () => (await get(port, readyPath).catch(() => undefined))?.status === 200,
      120_000,
    );
  } catch (err) {
    await service.stop();
    throw new Error(`${label} did not start: ${err.message}`);
  }
  if (pin.pinned) execFileSync('taskset', ['-a', '-cp', '0', String(service.child.pid)], { stdio: 'ignore' });
  return service;
}

/**
 * One bounded wrk run (one thread, 64 keep-alive connections) on `path`, with the CPU the process `pid`
 * spent over it: µs of CPU per request tells a cost apart from a slow peer or a noisy round.
 */
export async function loadWithCpu({ pin, port, path, seconds, pid }) {
  const args = wrkCommand(pin, { connections: 64, port }, seconds, path);
  const before = ticks(`/proc/${pid}/stat`) ?? 0;
  const { text } = await runBounded(args, seconds, 'wrk').done;
  const cpuSeconds = ((ticks(`/proc/${pid}/stat`) ?? 0) - before) / clockTicks();
  const figures = wrkFigures(text);
  return { ...figures, cpuUsPerRequest: figures.requests > 0 ? (cpuSeconds * 1e6) / figures.requests : 0 };
}
