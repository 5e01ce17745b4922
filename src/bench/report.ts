/**
 * The report of a `weir bench` run as data: what report.json holds, and what the Markdown and HTML
 * renderings read (they take nothing else, so a saved report.json renders again the same).
 */
import { cpus, release } from 'node:os';
import { redactUrl } from '../internal/url.ts';
import type { EngineRun } from './engine.ts';
import { Histogram } from './histogram.ts';
import type { BenchOptions } from './options.ts';
import { type ClassJson, classJson, type SecondJson, STATUS_CLASSES, type StatusClass } from './recorder.ts';

/** Which target: `A` is the URL, `B` the --compare URL. */
export type TargetLabel = 'A' | 'B';

/** One measured run of one target. */
export interface RoundJson {
  round: number;
  /** How long the load ran, s. */
  seconds: number;
  /** Responses completed. */
  requests: number;
  /** Responses per second. */
  rps: number;
  /** Count per status code. */
  statuses: Record<string, number>;
  /** Latency per status class. */
  classes: Partial<Record<StatusClass, ClassJson>>;
  /** Per second of the run: count, p50 and p99 per status class. */
  timeline: SecondJson[];
  errors: { socket: number; timeouts: number };
}

/** One target over every round. */
export interface TargetJson {
  label: TargetLabel;
  /** The URL, its password (if any) replaced by `***`. */
  url: string;
  rounds: RoundJson[];
  /** Responses per second: the median round's, the lowest and the highest. */
  rps: { median: number; min: number; max: number };
  statuses: Record<string, number>;
  /** Latency per status class, every round merged. */
  classes: Partial<Record<StatusClass, ClassJson>>;
  errors: { socket: number; timeouts: number };
}

/** report.json. */
export interface BenchReport {
  tool: 'weir bench';
  /** The shape of this document; bumped when a field changes meaning. */
  version: 1;
  startedAt: string;
  finishedAt: string;
  engine: { name: string; version: string };
  machine: { node: string; platform: string; cpu: string; cores: number; kernel: string };
  /** The options of the run; of the headers, only their names (values may be secrets). */
  options: {
    durationMs: number;
    warmupMs: number;
    rounds: number;
    connections: number;
    timeoutMs: number;
    method: string;
    headers: string[];
    bodyBytes: number;
  };
  /** The order the measured runs ran in. */
  order: { round: number; target: TargetLabel }[];
  targets: TargetJson[];
  /** With --compare: B's figure over A's (req/s, and p50 and p99 of the 2xx responses); null without one. */
  comparison?: { rps: number | null; p50: number | null; p99: number | null };
}

/** The lower middle of `values` (undefined when empty). */
export function median(values: readonly number[]): number | undefined {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return v.length === 0 ? undefined : v[Math.floor((v.length - 1) / 2)];
}

/** A round's JSON from what the engine recorded. */
export function roundJson(round: number, run: EngineRun): RoundJson {
  return {
    round,
    seconds: run.seconds,
    requests: run.requests,
    rps: run.seconds > 0 ? run.requests / run.seconds : 0,
    statuses: run.recorder.statuses(),
    classes: run.recorder.classesJson(),
    timeline: run.recorder.timeline(),
    errors: run.errors,
  };
}

/** A target's JSON from its rounds: req/s spread, statuses and errors summed, latency histograms merged. */
export function targetJson(label: TargetLabel, url: string, rounds: RoundJson[]): TargetJson {
  const statuses: Record<string, number> = {};
  const merged = new Map<StatusClass, Histogram>();
  const errors = { socket: 0, timeouts: 0 };
  for (const r of rounds) {
    for (const [code, n] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
    for (const cls of STATUS_CLASSES) {
      const c = r.classes[cls];
      if (c === undefined) continue;
      const h = merged.get(cls) ?? new Histogram();
      merged.set(cls, h.merge(Histogram.fromJSON(c.histogram)));
    }
    errors.socket += r.errors.socket;
    errors.timeouts += r.errors.timeouts;
  }
  const classes: Partial<Record<StatusClass, ClassJson>> = {};
  for (const [cls, h] of merged) classes[cls] = classJson(h);
  const rps = rounds.map((r) => r.rps);
  return {
    label,
    url: redactUrl(url),
    rounds,
    rps: { median: median(rps) ?? 0, min: Math.min(...rps), max: Math.max(...rps) },
    statuses: Object.fromEntries(Object.entries(statuses).sort((a, b) => Number(a[0]) - Number(b[0]))),
    classes,
    errors,
  };
}

/** The machine's facts for the report. */
export function machineJson(): BenchReport['machine'] {
  return {
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    kernel: release(),
  };
}

/** The options as the report keeps them: header names only, the body's size only. */
export function optionsJson(o: BenchOptions): BenchReport['options'] {
  return {
    durationMs: o.durationMs,
    warmupMs: o.warmupMs,
    rounds: o.rounds,
    connections: o.connections,
    timeoutMs: o.timeoutMs,
    method: o.method,
    headers: o.headers.map(([name]) => name),
    bodyBytes: o.body === undefined ? 0 : Buffer.byteLength(o.body),
  };
}

/** B over A, when there are two targets and both have the figure. */
export function comparisonJson(targets: TargetJson[]): BenchReport['comparison'] {
  const [a, b] = targets;
  if (a === undefined || b === undefined) return undefined;
  const ratio = (x: number | undefined, y: number | undefined) =>
    x === undefined || y === undefined || x === 0 ? null : y / x;
  return {
    rps: ratio(a.rps.median, b.rps.median),
    p50: ratio(a.classes['2xx']?.p50, b.classes['2xx']?.p50),
    p99: ratio(a.classes['2xx']?.p99, b.classes['2xx']?.p99),
  };
}
