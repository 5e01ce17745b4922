/**
 * The wrk engine: one wrk process per run, one connection per wrk thread, with the Lua script of
 * wrk-script.ts recording latency per status; its lines are read back into a Recorder.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Engine, type EngineRun, type EngineRunOptions, engineError } from './engine.ts';
import { classOf, Recorder, type StatusClass } from './recorder.ts';
import { wrkScript } from './wrk-script.ts';

/** How long past its duration and time-out a wrk process may run before it is killed. */
const GRACE_MS = 10_000;

/** The version line of the wrk at `path`, e.g. `wrk debian/4.1.0-3+b2 [epoll]`. */
function wrkVersion(path: string): string {
  const result = spawnSync(path, ['-v'], { encoding: 'utf8', timeout: 5000 });
  const line = `${result.stdout ?? ''}${result.stderr ?? ''}`.split('\n')[0] ?? '';
  return line.replace(/\s*Copyright.*$/, '').trim() || 'wrk (version unknown)';
}

/** The wrk engine, running the wrk binary at `path`. */
export function createWrkEngine(path: string): Engine {
  const version = wrkVersion(path);
  return { name: 'wrk', version, run: (options) => runWrk(path, options) };
}

/** wrk's arguments for a run: one thread per connection (see wrk-script.ts for why). */
export function wrkArgs(options: EngineRunOptions, script: string): string[] {
  return [
    `-t${options.connections}`,
    `-c${options.connections}`,
    `-d${Math.max(1, Math.round(options.durationMs / 1000))}s`,
    `--timeout`,
    `${Math.max(1, Math.round(options.timeoutMs / 1000))}s`,
    '-s',
    script,
    options.url,
  ];
}

async function runWrk(path: string, options: EngineRunOptions): Promise<EngineRun> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-'));
  const script = join(dir, 'record.lua');
  writeFileSync(script, wrkScript(options));
  const child = spawn(path, wrkArgs(options, script), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const started = performance.now();
  const progress = setInterval(() => options.onProgress?.(performance.now() - started, undefined), 250);
  // wrk ends by itself at its duration; this bounds a wrk that hangs (a server that never answers a
  // connect, a stuck thread), by PID.
  const killer = setTimeout(() => child.kill('SIGKILL'), options.durationMs + options.timeoutMs + GRACE_MS);
  try {
    const code = await new Promise<number | string>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, signal) => resolve(c ?? signal ?? 'unknown'));
    });
    if (code !== 0) {
      throw engineError(`wrk exited with ${code} on ${options.url}: ${(err || out).trim().slice(0, 500)}`);
    }
    return parseWrkRecord(out);
  } finally {
    clearInterval(progress);
    clearTimeout(killer);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The run recorded in the `weir-bench` lines of wrk's output (see wrk-script.ts).
 * @throws WEIR_ERR_BENCH_ENGINE when the lines are missing (the script failed to load, say)
 */
export function parseWrkRecord(text: string): EngineRun {
  const recorder = new Recorder();
  const exact = new Map<StatusClass, { sum: number; min: number; max: number }>();
  let total: number[] | undefined;
  for (const line of text.split('\n')) {
    if (!line.startsWith('weir-bench ')) continue;
    const [, kind, ...rest] = line.trim().split(' ');
    const n = rest.map(Number);
    if (kind === 'b' && n.length === 4) {
      recorder.addBucket(n[1] as number, n[0] as number, n[2] as number, n[3] as number);
    } else if (kind === 's' && n.length === 5) {
      const cls = classOf(n[0] as number);
      const e = exact.get(cls);
      const [, , sum, min, max] = n as [number, number, number, number, number];
      if (e === undefined) exact.set(cls, { sum, min, max });
      else exact.set(cls, { sum: e.sum + sum, min: Math.min(e.min, min), max: Math.max(e.max, max) });
    } else if (kind === 't' && n.length === 6) {
      total = n;
    }
  }
  if (total === undefined || total.some(Number.isNaN)) {
    throw engineError(
      `wrk's output has no weir-bench summary (did its Lua script load?):\n${text.slice(0, 500)}`,
    );
  }
  for (const [cls, e] of exact) recorder.setExact(cls, e.sum, e.min, e.max);
  const [requests, durationUs, connect, read, write, timeouts] = total as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return {
    seconds: durationUs / 1e6,
    requests,
    recorder,
    errors: { socket: connect + read + write, timeouts },
  };
}
