// The reference service as `npm start` runs it (node scripts/start.mjs), for the runners that drive it
// directly (reload.mjs, workers.mjs): SQLite files in a temporary folder, CACHE_URL=memory:, logs at warn,
// tracked so a runner that fails leaves no process behind. And the figures those runners read off wrk.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST, ROOT, sleep } from './common.mjs';
import { track } from './processes.mjs';

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
