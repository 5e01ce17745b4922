/**
 * What the cache suites share: a logger that records, a promise settled from outside, and the context a
 * conformance case runs in.
 */
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'weir';
import type { Cache, CacheOptions } from 'weir/cache';

/** A logger that keeps what it is told. */
export function recordingLogger(): Logger & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    error: (_obj, msg) => warnings.push(String(msg)),
    warn: (_obj, msg) => warnings.push(String(msg)),
    info: (_obj, msg) => infos.push(String(msg)),
    debug: () => undefined,
  };
}

export function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls `condition` every 10 ms until it holds; fails after `timeoutMs`. Resolves with the ms it took. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
    await delay(10);
  }
  return Date.now() - start;
}

/** The context of one backend's conformance run. */
export interface Suite {
  /** The cache most cases share (opened before the first case). */
  readonly cache: Cache;
  /** The logger of `cache` and of every cache `open()` gives without one of its own. */
  readonly log: ReturnType<typeof recordingLogger>;
  /** Another cache on the same backend, in a namespace of its own, closed after the suite. */
  open(extra?: CacheOptions): Promise<Cache>;
}
