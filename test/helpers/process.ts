import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A TypeScript program run the way `npm start` runs the service, with its stdout collected. */
export interface TsProcess {
  readonly child: ChildProcess;
  /** Everything printed on stdout so far. */
  output(): string;
  /** Resolves with the first match of `pattern` in stdout; rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  /** Resolves with the exit code. */
  exited(): Promise<number | null>;
}

export function spawnTs(
  file: URL,
  env: Record<string, string> = {},
  options: { stdin?: boolean } = {},
): TsProcess {
  return spawnNode(['--conditions=weir-source', '--import', 'tsx', file.pathname], env, options);
}

/** `node args…` (a script and its arguments), with its stdout collected as {@link spawnTs} does. */
export function spawnNode(
  args: readonly string[],
  env: Record<string, string> = {},
  options: { stdin?: boolean } = {},
): TsProcess {
  const file = { pathname: args.at(-1) ?? 'node' };
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env },
    stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const wakers = new Set<() => void>();
  let exitCode: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => {
      exitCode = code;
      for (const wake of wakers) wake();
      resolve(code);
    });
  });
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
    for (const wake of wakers) wake();
  });
  return {
    child,
    output: () => out,
    exited: () => exit,
    async waitFor(pattern) {
      for (;;) {
        const match = pattern.exec(out);
        if (match !== null) return match;
        if (exitCode !== undefined)
          throw new Error(`${file.pathname} exited with ${exitCode} before printing ${pattern}: ${out}`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            wakers.delete(wake);
            resolve();
          };
          wakers.add(wake);
        });
      }
    },
  };
}

/**
 * Runs the app `fixture` (under tsx, with weir's sources) with test/fixtures/imports/record.mjs, which
 * writes to a log each module it resolves whose name matches `match` (the fixture writes its own marks
 * there too, to the file WEIR_IMPORT_LOG names), and returns the log's lines once it has exited 0. The
 * log lives in a temporary folder of its own, removed afterwards.
 */
export async function recordImports(fixture: URL, match?: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-imports-'));
  const log = join(dir, 'imports.log');
  try {
    return await recordInto(fixture, log, match);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function recordInto(fixture: URL, log: string, match: string | undefined): Promise<string[]> {
  const child = spawnNode(
    [
      '--conditions=weir-source',
      '--import',
      'tsx',
      '--import',
      new URL('../fixtures/imports/record.mjs', import.meta.url).pathname,
      fixture.pathname,
    ],
    {
      WEIR_IMPORT_LOG: log,
      LOG_LEVEL: 'silent',
      ...(match === undefined ? undefined : { WEIR_IMPORT_MATCH: match }),
    },
  );
  const code = await child.exited();
  if (code !== 0) throw new Error(`${fixture.pathname} exited ${code}`);
  return readFileSync(log, 'utf8').trim().split('\n');
}
