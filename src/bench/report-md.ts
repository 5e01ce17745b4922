/** report.md: the report of a `weir bench` run as Markdown tables. */
import { code, fmtInt, fmtMs, fmtRatio, markdownWriter } from './format.ts';
import { STATUS_CLASSES } from './recorder.ts';
import type { BenchReport, TargetJson } from './report.ts';

/** The run's setting in one line: engine, connections, rounds, method, machine. */
export function settingLine(report: BenchReport): string {
  const o = report.options;
  const m = report.machine;
  const warm = o.warmupMs > 0 ? ` after a ${o.warmupMs / 1000} s warm-up per target` : ', no warm-up';
  const body = o.bodyBytes > 0 ? ` with a ${fmtInt(o.bodyBytes)}-byte body` : '';
  const headers = o.headers.length > 0 ? `, headers ${o.headers.join(', ')}` : '';
  return (
    `${report.engine.version}, ${o.connections} connections, ${o.rounds} round${o.rounds === 1 ? '' : 's'} of ` +
    `${o.durationMs / 1000} s${warm}; ${o.method}${body}${headers}. Node ${m.node} on ${m.cpu} ` +
    `(${m.cores} cores, ${m.platform}, ${m.kernel}), ${report.startedAt}.`
  );
}

/** The share of `n` in `total`, as `12.3 %`. */
const share = (n: number, total: number) => (total === 0 ? 'n/a' : `${((n / total) * 100).toFixed(1)} %`);

function latencyRows(row: (cells: (string | number)[]) => void, t: TargetJson, many: boolean): void {
  const total = Object.values(t.classes).reduce((sum, c) => sum + (c?.count ?? 0), 0);
  for (const cls of STATUS_CLASSES) {
    const c = t.classes[cls];
    if (c === undefined) continue;
    row([
      ...(many ? [t.label] : []),
      cls,
      fmtInt(c.count),
      share(c.count, total),
      fmtMs(c.p50),
      fmtMs(c.p90),
      fmtMs(c.p99),
      fmtMs(c.p999),
      fmtMs(c.max),
      fmtMs(c.mean),
    ]);
  }
}

/** The whole report as Markdown. */
export function renderMarkdown(report: BenchReport): string {
  const { p, row, text } = markdownWriter();
  const many = report.targets.length > 1;
  p('# weir bench');
  p();
  for (const t of report.targets) p(`- ${many ? `${t.label}: ` : ''}${report.options.method} ${code(t.url)}`);
  p();
  p(settingLine(report));
  p();
  p('## Requests per second');
  p();
  row([...(many ? ['target'] : []), 'median', 'min', 'max', 'per round (in order)']);
  row([...(many ? ['---'] : []), '---:', '---:', '---:', '---']);
  for (const t of report.targets) {
    row([
      ...(many ? [t.label] : []),
      fmtInt(t.rps.median),
      fmtInt(t.rps.min),
      fmtInt(t.rps.max),
      t.rounds.map((r) => fmtInt(r.rps)).join(' · '),
    ]);
  }
  p();
  if (report.comparison) {
    const c = report.comparison;
    p(
      `B against A: ${fmtRatio(c.rps)} the requests per second; 2xx latency ${fmtRatio(c.p50)} at p50 and ` +
        `${fmtRatio(c.p99)} at p99. The order alternated: ${report.order.map((o) => o.target).join(' ')}.`,
    );
    p();
  }
  p('## Latency by status class');
  p();
  p('Every round together, in ms. Each status class has its own percentiles, so fast rejections (a 503');
  p('from load shedding) do not pull the successes’ figures down.');
  p();
  row([
    ...(many ? ['target'] : []),
    'class',
    'responses',
    'share',
    'p50',
    'p90',
    'p99',
    'p99.9',
    'max',
    'mean',
  ]);
  row([...(many ? ['---'] : []), '---', ...Array(8).fill('---:')]);
  for (const t of report.targets) latencyRows(row, t, many);
  p();
  p('## Status codes and errors');
  p();
  row([...(many ? ['target'] : []), 'status codes', 'socket errors', 'time-outs']);
  row([...(many ? ['---'] : []), '---', '---:', '---:']);
  for (const t of report.targets) {
    const codes = Object.entries(t.statuses).map(([status, n]) => `${status}: ${fmtInt(n)}`);
    row([
      ...(many ? [t.label] : []),
      codes.join(', ') || 'none',
      fmtInt(t.errors.socket),
      fmtInt(t.errors.timeouts),
    ]);
  }
  p();
  return `${text()}`;
}
