/**
 * `weir bench URL [options]`: reads the options, picks the engine, runs, and writes the report (report.html,
 * report.json and report.md with --out; the Markdown on stdout without).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isWeirError } from '../errors.ts';
import { BENCH_USAGE, parseBenchArgs } from './options.ts';
import { pickEngine } from './pick-engine.ts';
import { lineProgress, type TerminalStream, terminalProgress } from './progress.ts';
import type { BenchReport } from './report.ts';
import { renderHtml } from './report-html.ts';
import { renderMarkdown } from './report-md.ts';
import { runBench } from './run.ts';

/** Where the command writes: report lines to `out`, progress and errors to `err`. */
export interface BenchIo {
  out(line: string): void;
  err(line: string): void;
}

/** What else the command may be given. */
export interface BenchCommandContext {
  /** A terminal to draw the progress bar on; without one, progress goes to `io.err` as lines. */
  terminal?: TerminalStream;
  /** The environment whose PATH is searched for wrk. @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** Writes report.html, report.json and report.md into `dir` (created); returns their paths. */
export function writeReports(dir: string, report: BenchReport): string[] {
  mkdirSync(dir, { recursive: true });
  const files: [string, string][] = [
    ['report.html', renderHtml(report)],
    ['report.json', `${JSON.stringify(report, null, 2)}\n`],
    ['report.md', `${renderMarkdown(report)}\n`],
  ];
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  return files.map(([name]) => join(dir, name));
}

/** Runs `weir bench` with `argv` (the words after `bench`); resolves with the exit code. */
export async function benchCommand(
  argv: readonly string[],
  io: BenchIo,
  context: BenchCommandContext = {},
): Promise<number> {
  let parsed: ReturnType<typeof parseBenchArgs>;
  try {
    parsed = parseBenchArgs(argv);
  } catch (err) {
    io.err(`weir bench: ${(err as Error).message}\n\n${BENCH_USAGE}`);
    return 2;
  }
  if (parsed.help) {
    io.out(BENCH_USAGE);
    return 0;
  }
  const { options } = parsed;
  try {
    const engine = await pickEngine(options.engine, context.env);
    const progress = context.terminal ? terminalProgress(context.terminal) : lineProgress((l) => io.err(l));
    io.err(`weir bench: ${engine.version}, ${options.connections} connections`);
    const report = await runBench(options, { engine, progress });
    if (options.out === undefined) {
      io.out(renderMarkdown(report));
    } else {
      const files = writeReports(resolve(options.out), report);
      io.out(`weir bench: wrote ${files.join(', ')}`);
    }
    const silent = report.targets.filter((t) => t.rounds.every((r) => r.requests === 0));
    if (silent.length > 0) {
      io.err(`weir bench: no response from ${silent.map((t) => t.url).join(' and ')}`);
      return 1;
    }
    return 0;
  } catch (err) {
    context.terminal?.write('\r\x1b[2K'); // the error replaces a half-drawn bar
    const code = isWeirError(err) ? ` (${err.code})` : '';
    io.err(`weir bench: ${(err as Error).message}${code}`);
    return 1;
  }
}
