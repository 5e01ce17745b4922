/**
 * The module every pool thread loads. A task names either a module (a file URL and an export name) or
 * carries the source of a self-contained function; either way the result is what the function returns.
 * Compiled functions and loaded modules are cached per thread.
 */
export interface WorkerTask {
  readonly file?: string;
  readonly name?: string;
  readonly source?: string;
  readonly args: readonly unknown[];
}

import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

type Fn = (...args: unknown[]) => unknown;

const require = createRequire(import.meta.url);

/**
 * Loads a task module. On Node 20 a TypeScript loader's ESM hooks do not reach worker threads while its
 * CommonJS hook does, so a `.ts` module that `import()` refuses is loaded with `require()`.
 */
async function load(file: string): Promise<Record<string, unknown>> {
  try {
    return (await import(file)) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw err;
    return require(fileURLToPath(file)) as Record<string, unknown>;
  }
}

const compiled = new Map<string, Fn>();

async function resolve(task: WorkerTask): Promise<Fn> {
  if (task.source !== undefined) {
    let fn = compiled.get(task.source);
    if (fn === undefined) {
      // The source is a function the application itself passed to runInWorker (never request data).
      fn = new Function(`return (${task.source});`)() as Fn;
      compiled.set(task.source, fn);
    }
    return fn;
  }
  const mod = await load(task.file!);
  const fn = mod[task.name ?? 'default'];
  if (typeof fn !== 'function') {
    throw new TypeError(
      `${task.file} has no function export named ${JSON.stringify(task.name ?? 'default')}`,
    );
  }
  return fn as Fn;
}

export default async function runTask(task: WorkerTask): Promise<unknown> {
  const fn = await resolve(task);
  return fn(...task.args);
}
