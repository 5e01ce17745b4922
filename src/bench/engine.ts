/**
 * The load generators of `weir bench` behind one interface: wrk (a separate process, found on PATH) and
 * autocannon (a library, run in this process). Both fill the same Recorder, so reports do not depend on
 * the engine.
 */
import { WeirError } from '../errors.ts';
import type { EngineName } from './options.ts';
import type { Recorder } from './recorder.ts';

/** One measured (or warm-up) run against one URL. */
export interface EngineRunOptions {
  url: string;
  durationMs: number;
  connections: number;
  timeoutMs: number;
  method: string;
  headers: readonly [string, string][];
  body?: string;
  /** Called about four times a second while the run lasts. */
  onProgress?: (elapsedMs: number, responses: number | undefined) => void;
}

/** What a run recorded. */
export interface EngineRun {
  /** How long the load ran, in seconds, as the engine measured it. */
  seconds: number;
  /** Responses completed. */
  requests: number;
  /** Latencies by status class and second, counts by status. */
  recorder: Recorder;
  /** Connections that failed (connect, read, write, reset) and requests that timed out. */
  errors: { socket: number; timeouts: number };
}

/** A load generator. */
export interface Engine {
  readonly name: EngineName;
  /** Its version, for the report. */
  readonly version: string;
  run(options: EngineRunOptions): Promise<EngineRun>;
}

/** The error for a load generator that is missing or failed. */
export function engineError(message: string, cause?: unknown): WeirError {
  return new WeirError('WEIR_ERR_BENCH_ENGINE', message, { cause });
}
