/**
 * The autocannon engine: autocannon as a library, in this process, loaded on first use (it is an optional
 * peer dependency). Its `response` event gives each response's status and latency, filed in a Recorder.
 */
import { createRequire } from 'node:module';
import { loadPackage } from '../internal/load-package.ts';
import { type Engine, type EngineRun, type EngineRunOptions, engineError } from './engine.ts';
import { Recorder } from './recorder.ts';

/** The part of autocannon's API weir uses. */
interface AutocannonInstance extends PromiseLike<AutocannonResult> {
  on(event: 'response', listener: (client: unknown, status: number, bytes: number, ms: number) => void): void;
  on(event: 'tick', listener: () => void): void;
  stop(): void;
}

interface AutocannonResult {
  errors: number;
  timeouts: number;
}

type Autocannon = (options: {
  url: string;
  connections: number;
  duration: number;
  timeout: number;
  method: string;
  headers: Record<string, string>;
  body?: string;
}) => AutocannonInstance;

const GRACE_MS = 10_000;

/**
 * The autocannon engine. `why` ends the message when autocannon is missing (`(and wrk is not on PATH)`).
 * @throws WEIR_ERR_BENCH_ENGINE when the autocannon package is not installed
 */
export async function createAutocannonEngine(why: string): Promise<Engine> {
  const autocannon = await loadPackage<Autocannon>('autocannon', 'weir bench', (message, cause) =>
    engineError(`${message.replace(/`$/, ' --save-dev`')}${why}`, cause),
  );
  let version = 'unknown';
  try {
    const require = createRequire(import.meta.url);
    version = (require('autocannon/package.json') as { version: string }).version;
  } catch {
    // an install without its package.json exported: the version stays unknown
  }
  return { name: 'autocannon', version: `autocannon ${version}`, run: (o) => runAutocannon(autocannon, o) };
}

async function runAutocannon(autocannon: Autocannon, options: EngineRunOptions): Promise<EngineRun> {
  const recorder = new Recorder();
  const started = performance.now();
  const instance = autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationMs / 1000,
    timeout: options.timeoutMs / 1000,
    method: options.method,
    headers: Object.fromEntries(options.headers),
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  instance.on('response', (_client, status, _bytes, ms) => {
    recorder.record(status, ms * 1000, (performance.now() - started) / 1000);
  });
  const progress = setInterval(() => options.onProgress?.(performance.now() - started, recorder.count), 250);
  // autocannon stops at its duration; this bounds one that does not (a connection stuck in connect).
  const stopper = setTimeout(() => instance.stop(), options.durationMs + options.timeoutMs + GRACE_MS);
  try {
    const result = await instance;
    const seconds = (performance.now() - started) / 1000;
    return {
      seconds,
      requests: recorder.count,
      recorder,
      errors: { socket: Math.max(0, result.errors - result.timeouts), timeouts: result.timeouts },
    };
  } catch (err) {
    throw engineError(`autocannon failed on ${options.url}: ${(err as Error).message}`, err);
  } finally {
    clearInterval(progress);
    clearTimeout(stopper);
  }
}
