// Child processes of the runners: tracked and killed by PID if the runner exits early, servers started and
// stopped, bounded runs of a load generator (wrk, with the CPU sampled while it runs), one-request HTTP
// helpers. Traffic goes to 127.0.0.1 only.

import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createConnection } from 'node:net';
import { BENCH_DIR, HOST, sleep } from './common.mjs';
import { cpuSample, cpuStats, sampleWindow } from './cpu.mjs';

/** Child processes still running, killed by PID if the runner exits early. */
const live = new Set();

export function track(child) {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** SIGKILL, by PID, to every tracked child process that is still running. */
export function killLive() {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/**
 * Every way out (fail(), a signal, an exception, the normal end) passes through 'exit': there the tracked
 * children are killed, then `cleanup` runs. SIGINT and SIGTERM exit with 130 and 143.
 */
export function cleanupOnExit(cleanup) {
  process.once('exit', () => {
    killLive();
    cleanup?.();
  });
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}

/**
 * Starts `argv` tracked, its stdout and stderr piped (plus `stdio`'s extra channels) and collected into
 * `log` as they arrive. Resolves `exited` to { code, signal }.
 */
export function spawnTracked(argv, { cwd, env, stdio = [], log = [] } = {}) {
  const child = track(
    spawn(argv[0], argv.slice(1), {
      cwd,
      env: env && { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe', ...stdio],
    }),
  );
  child.stdout.on('data', (d) => log.push(String(d)));
  child.stderr.on('data', (d) => log.push(String(d)));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, log, exited };
}

/** Waits up to `ms` for a child ({ child, exited }) to exit, then SIGKILLs it by PID. */
export async function reap({ child, exited }, ms = 10_000) {
  const timer = setTimeout(() => child.kill('SIGKILL'), ms);
  await exited;
  clearTimeout(timer);
}

export function portAnswers(port) {
  return new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** One GET to 127.0.0.1, without keep-alive: { status, headers, rawHeaders, body }. */
export function get(port, path, timeout = 2000) {
  return send(port, path, { timeout });
}

/** One POST of JSON text `body` to 127.0.0.1, without keep-alive: { status, headers, rawHeaders, body }. */
export function post(port, path, body, timeout = 5000) {
  return send(port, path, { method: 'POST', timeout, body });
}

/**
 * One request to 127.0.0.1, without keep-alive, with `headers` and, with a `body` (JSON text), its
 * content-type and length: { status, headers, rawHeaders, body }.
 */
export function send(port, path, { method = 'GET', headers, body, timeout = 2000 } = {}) {
  const data = body === undefined ? undefined : Buffer.from(body);
  const head = data
    ? { 'content-type': 'application/json', 'content-length': data.length, ...headers }
    : headers;
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path, method, agent: false, timeout, headers: head }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: text }),
      );
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end(data);
  });
}

/**
 * Starts a server (`argv`, in `cwd`, bench/ unless given, with `env` added to the environment) and waits
 * up to 15 s until `port` answers and `probe` resolves. `name` names it in errors; its output goes to
 * `log`. Resolves to { child, exited, log, isDead }.
 */
export async function startServer({ name, argv, env, port, probe, log = [], cwd = BENCH_DIR }) {
  if (await portAnswers(port))
    throw new Error(`something already listens on ${HOST}:${port}; pick another --port`);
  const { child, exited } = spawnTracked(argv, { cwd, env, log });
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  const server = { child, exited, log, isDead: () => dead };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (dead) throw new Error(`${name} exited during start-up:\n${log.join('')}`);
    if (await portAnswers(port)) {
      try {
        await probe();
        break;
      } catch {
        // listening but not answering yet
      }
    }
    if (Date.now() > deadline) {
      await stopServer(server);
      throw new Error(`${name} did not answer on ${HOST}:${port} within 15 s:\n${log.join('')}`);
    }
    await sleep(100);
  }
  return server;
}

/** SIGTERM by PID, then SIGKILL after `ms` (3 s); resolves once the process is gone. */
export async function stopServer(server, ms = 3000) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill('SIGTERM');
  await reap(server, ms);
}

/**
 * Runs a load generator (`args`: the whole command line, pinning included), tracked and killed if it
 * overruns its `seconds` by 30 s. `done` resolves to { command, text (stdout and stderr as they came),
 * stdout }, or rejects on a non-zero exit, naming it `name`.
 */
export function runBounded(args, seconds, name) {
  const { child, log } = spawnTracked(args);
  let stdout = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
  const done = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const text = log.join('');
      if (code !== 0) reject(new Error(`${name} exited with ${code ?? signal}:\n${text}`));
      else resolve({ command: args.join(' '), text, stdout });
    });
  });
  return { child, done };
}

/** Runs wrk (`args`: its whole command line, pinning included) as runBounded() does. */
export const startWrk = (args, seconds) => runBounded(args, seconds, 'wrk');

/**
 * wrk's command line, pinned with `pin.wrk`: one thread, `connections` and `port`, `seconds`, `--latency`,
 * the Lua `script` if one is given, GET `path` (or what the script sends there).
 */
export const wrkCommand = (pin, { connections, port }, seconds, path, script) => [
  ...pin.wrk,
  'wrk',
  '-t1',
  `-c${connections}`,
  `-d${seconds}s`,
  '--latency',
  ...(script ? ['-s', script] : []),
  `http://${HOST}:${port}${path}`,
];

/**
 * Runs wrk (`args`: the whole command line, pinning included), bounded in time (killed if it overruns by
 * 30 s). With `serverPid`, samples CPU use every 500 ms from 0.5 s in until wrk exits: the server's, wrk's
 * and core 0's (see cpuStats), plus one figure per entry of `more` (name → a function giving CPU ticks).
 * Resolves to { command, text, cpu }.
 */
export async function measureWrk(args, seconds, serverPid, more = {}) {
  const wrk = startWrk(args, seconds);
  let window;
  if (serverPid !== undefined) {
    const stop = sampleWindow(() => {
      const s = cpuSample(serverPid, wrk.child.pid, more);
      return s.wrk === undefined ? undefined : s; // wrk already gone: keep the previous sample
    });
    wrk.child.once('exit', () => {
      window = stop();
    });
  }
  const { command, text } = await wrk.done;
  return { command, text, cpu: window ? cpuStats(...window) : undefined };
}
