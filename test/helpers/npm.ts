import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * The environment for npm or Node in a scratch project: npm's own run-script variables (`npm test` sets
 * them) point at this repository and would make an inner npm act on it, and the test runner's context
 * variable would make an inner `node --test` report to this run instead of printing its results. The
 * user's settings (cache, registry, nodedir for another Node line) stay.
 */
export function scratchEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(lifecycle_|package_|config_local_prefix$|config_allow_scripts$)|^INIT_CWD$/.test(key))
      continue;
    if (key === 'NODE_TEST_CONTEXT') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/**
 * Runs `cmd args` in `cwd` with {@link scratchEnv}, killed after `timeoutMs`; resolves with its stdout,
 * rejects with a message holding its stdout and stderr.
 */
export async function sh(
  cmd: string,
  args: readonly string[],
  cwd: string,
  timeoutMs: number,
  env: NodeJS.ProcessEnv = {},
): Promise<string> {
  try {
    const { stdout } = await run(cmd, [...args], {
      cwd,
      env: scratchEnv(env),
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const e = err as Error & { stdout?: string; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}: ${e.message}\n${e.stdout}\n${e.stderr}`);
  }
}
