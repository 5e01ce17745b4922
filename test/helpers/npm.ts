import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
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

/**
 * Copies the working tree of the repository at `root` (tracked files and untracked ones git does not
 * ignore, as they are on disk) to `dest`, with `node_modules` a link to the repository's. Packing the copy
 * builds its own dist/, so a packing test neither races another one that packs (each build empties
 * dist/ first) nor rewrites the checkout's dist/.
 */
export async function copyWorkingTree(root: string, dest: string): Promise<void> {
  const listed = await sh(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    root,
    30_000,
  );
  for (const file of listed.split('\0')) {
    // A tracked file deleted in the working tree is not in it; node_modules is linked below.
    if (file === '' || file === 'node_modules' || !existsSync(join(root, file))) continue;
    mkdirSync(dirname(join(dest, file)), { recursive: true });
    cpSync(join(root, file), join(dest, file), { verbatimSymlinks: true });
  }
  symlinkSync(join(root, 'node_modules'), join(dest, 'node_modules'), 'dir');
}
