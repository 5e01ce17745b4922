/** Which load generator `weir bench` uses: the one asked for, else wrk when on PATH, else autocannon. */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createAutocannonEngine } from './autocannon.ts';
import { type Engine, engineError } from './engine.ts';
import type { EngineName } from './options.ts';
import { createWrkEngine } from './wrk.ts';

/** The absolute path of `command` in the folders of `path` (a PATH value), or undefined. */
export function findOnPath(command: string, path: string | undefined): string | undefined {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, command);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * The engine `name`, or without one wrk when it is on `env.PATH`, else autocannon when it is installed.
 * @throws WEIR_ERR_BENCH_ENGINE when the engine asked for (or any, without a name) is not available
 */
export async function pickEngine(
  name: EngineName | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Engine> {
  const wrk = findOnPath('wrk', env.PATH);
  if (name === 'wrk' || (name === undefined && wrk !== undefined)) {
    if (wrk === undefined) throw engineError('--engine wrk: wrk is not on PATH (apt-get install wrk)');
    return createWrkEngine(wrk);
  }
  return createAutocannonEngine(name === undefined ? ' (and wrk is not on PATH)' : '');
}
