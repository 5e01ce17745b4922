/**
 * `weir dev ENTRY`: runs ENTRY (TypeScript as it is) in a child process and restarts it when a file under
 * the project changes.
 *
 * States: `starting` (a child is loading ENTRY) → `running` (it serves) → on a change `stopping` (SIGTERM:
 * the child drains; SIGKILL after 3 s) → `starting` again. A child that fails to load or crashes leaves the
 * supervisor `waiting` for the next change; it does not restart in a loop. The port is closed between the
 * old child's exit and the new one's listen. SIGINT/SIGTERM to the supervisor stop the child, then exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type FSWatcher, readdirSync, watch } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CliIo } from './main.ts';

/** Folders a change in which restarts nothing. */
const IGNORED = new Set(['node_modules', '.git', 'dist', 'data', 'coverage', '.cache']);
const DEBOUNCE_MS = 80;
const KILL_AFTER_MS = 3000;

/** How the child runs TypeScript: tsx from the project, else Node's own type stripping where it has it. */
function typeScriptFlags(cwd: string): string[] | string {
  try {
    createRequire(join(cwd, 'package.json')).resolve('tsx');
    return ['--import', 'tsx'];
  } catch {
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    if (major > 22 || (major === 22 && minor >= 18)) return [];
    return 'weir dev runs TypeScript with tsx on this Node version: run `npm install --save-dev tsx`';
  }
}

/** Watches `root`'s files and, recursively, its folders but the ignored ones; calls `changed` per event. */
function watchProject(root: string, changed: (file: string) => void): FSWatcher[] {
  const watchers = [watch(root, (_event, file) => file !== null && changed(String(file)))];
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (!entry.isDirectory() || IGNORED.has(entry.name) || entry.name.startsWith('.')) continue;
    const dir = join(root, entry.name);
    watchers.push(watch(dir, { recursive: true }, (_event, file) => changed(join(entry.name, String(file)))));
  }
  return watchers;
}

/** Runs `weir dev`; resolves with the exit code when the supervisor is stopped. */
export function devCommand(
  entry: string,
  args: { port?: string; host?: string },
  io: CliIo,
): Promise<number> {
  const cwd = process.cwd();
  const flags = typeScriptFlags(cwd);
  if (typeof flags === 'string') {
    io.err(`weir: ${flags}`);
    return Promise.resolve(1);
  }
  const self = fileURLToPath(import.meta.url);
  const childScript = join(self, '..', `dev-child${self.endsWith('.ts') ? '.ts' : '.js'}`);
  // The child resolves packages as this process does (for example the `weir-source` condition).
  const conditions = process.execArgv.filter((a) => a.startsWith('--conditions'));
  const env = {
    ...process.env,
    WEIR_DEV: '1',
    ...(args.port === undefined ? {} : { PORT: args.port }),
    ...(args.host === undefined ? {} : { HOST: args.host }),
  };
  let child: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;

  const start = (): void => {
    const spawned = spawn(
      process.execPath,
      [...conditions, ...flags, '--enable-source-maps', childScript, resolve(entry)],
      // Its own process group: a terminal's Ctrl-C reaches the supervisor only, which then sends one
      // SIGTERM (a second signal would make the child exit at once, cutting requests in flight). The IPC
      // channel lets the child stop by itself if the supervisor dies.
      { cwd, env, stdio: ['inherit', 'inherit', 'inherit', 'ipc'], detached: true },
    );
    child = spawned;
    spawned.on('exit', (code, signal) => {
      if (child === spawned) child = undefined;
      if (!stopping && code !== 0 && signal === null) {
        io.err(`weir dev: ${entry} stopped (exit code ${code}); waiting for a change to restart`);
      }
    });
  };

  const stopChild = (): Promise<void> => {
    const running = child;
    if (running === undefined || running.exitCode !== null) return Promise.resolve();
    return new Promise((done) => {
      const kill = setTimeout(() => running.kill('SIGKILL'), KILL_AFTER_MS);
      running.once('exit', () => {
        clearTimeout(kill);
        done();
      });
      running.kill('SIGTERM');
    });
  };

  const restart = (file: string): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      io.out(`weir dev: ${file} changed, restarting`);
      void stopChild().then(() => {
        if (!stopping) start();
      });
    }, DEBOUNCE_MS);
  };

  const watchers = watchProject(cwd, (file) => {
    if (!file.split(/[\\/]/).some((part) => IGNORED.has(part))) restart(file);
  });
  io.out(`weir dev: running ${entry}, restarting on changes under ${cwd}`);
  start();
  return new Promise((exit) => {
    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      clearTimeout(timer);
      for (const w of watchers) w.close();
      void stopChild().then(() => exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
