/**
 * A `weir bench` run: a warm-up per target, then the rounds; with two targets they alternate and the order
 * flips every round (A B, B A, A B, …), so a machine that drifts (a neighbour's load, thermal limits)
 * favours neither. The project's bench/ runners rotate their servers the same way.
 */
import type { Engine, EngineRun } from './engine.ts';
import type { BenchOptions } from './options.ts';
import { type Progress, silentProgress } from './progress.ts';
import {
  type BenchReport,
  comparisonJson,
  machineJson,
  optionsJson,
  type RoundJson,
  roundJson,
  type TargetLabel,
  targetJson,
} from './report.ts';

/** What a run needs besides its options. */
export interface RunBenchContext {
  engine: Engine;
  /** @default silentProgress */
  progress?: Progress;
  /** The clock of the report's dates. @default () => new Date() */
  now?: () => Date;
}

/**
 * The order of `items` in round `round` (1-based): rotated by one every round, so drift of the machine
 * favours none. With two targets: A B, B A, A B, …
 */
export function rotation<T>(items: readonly T[], round: number): T[] {
  const shift = (round - 1) % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

/** One line on a finished run: req/s, then p50/p99 per status class, then errors. */
export function runSummary(run: EngineRun): string {
  const rps = run.seconds > 0 ? run.requests / run.seconds : 0;
  const parts = [`${fmt(rps)} req/s`];
  for (const cls of run.recorder.classes()) {
    const h = run.recorder.histogram(cls);
    parts.push(`${cls} ${fmt(h.count)} p50 ${ms(h.percentile(50))} ms p99 ${ms(h.percentile(99))} ms`);
  }
  const { socket, timeouts } = run.errors;
  if (socket + timeouts > 0) parts.push(`errors: ${socket} socket, ${timeouts} time-outs`);
  return parts.join(', ');
}

/** Runs the warm-ups and rounds of `options` with `context.engine`; resolves to the report. */
export async function runBench(options: BenchOptions, context: RunBenchContext): Promise<BenchReport> {
  const { engine, progress = silentProgress, now = () => new Date() } = context;
  const startedAt = now();
  const targets: [TargetLabel, string][] = [['A', options.url]];
  if (options.compare !== undefined) targets.push(['B', options.compare]);
  const name = (label: TargetLabel) => (targets.length > 1 ? `${label} ` : '');
  const once = async (url: string, durationMs: number, title: string) => {
    progress.start(title, durationMs);
    const run = await engine.run({
      url,
      durationMs,
      connections: options.connections,
      timeoutMs: options.timeoutMs,
      method: options.method,
      headers: options.headers,
      ...(options.body === undefined ? {} : { body: options.body }),
      onProgress: (elapsed, responses) => progress.update(elapsed, responses),
    });
    progress.end(runSummary(run));
    return run;
  };

  if (options.warmupMs > 0) {
    for (const [label, url] of targets) await once(url, options.warmupMs, `${name(label)}warm-up`);
  }
  const rounds = new Map<TargetLabel, RoundJson[]>(targets.map(([label]) => [label, []]));
  const order: BenchReport['order'] = [];
  for (let round = 1; round <= options.rounds; round++) {
    for (const [label, url] of rotation(targets, round)) {
      const run = await once(url, options.durationMs, `${name(label)}round ${round}/${options.rounds}`);
      rounds.get(label)?.push(roundJson(round, run));
      order.push({ round, target: label });
    }
  }
  const results = targets.map(([label, url]) => targetJson(label, url, rounds.get(label) ?? []));
  const report: BenchReport = {
    tool: 'weir bench',
    version: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: now().toISOString(),
    engine: { name: engine.name, version: engine.version },
    machine: machineJson(),
    options: optionsJson(options),
    order,
    targets: results,
  };
  const comparison = comparisonJson(results);
  if (comparison !== undefined) report.comparison = comparison;
  return report;
}
