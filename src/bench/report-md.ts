/** report.md: the report of a `weir bench` run as Markdown tables. */
import { code, fmtInt, fmtMs, fmtRatio, markdownWriter } from './format.ts';
import { type ClassJson, STATUS_CLASSES, type StatusClass } from './recorder.ts';
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

/** A status class's latency in a target: its figures, and the share of the target's responses it got. */
interface ClassRow {
  target: TargetJson;
  cls: StatusClass;
  c: ClassJson;
  total: number;
}

function classRows(t: TargetJson): ClassRow[] {
  const total = Object.values(t.classes).reduce((sum, c) => sum + (c?.count ?? 0), 0);
  return STATUS_CLASSES.flatMap((cls) => {
    const c = t.classes[cls];
    return c === undefined ? [] : [{ target: t, cls, c, total }];
  });
}

/** The whole report as Markdown. */
export function renderMarkdown(report: BenchReport): string {
  const { p, table, text } = markdownWriter();
  const many = report.targets.length > 1;
  const target = many && (['target', (t: TargetJson) => t.label, '---'] as const);
  p('# weir bench');
  p();
  for (const t of report.targets) p(`- ${many ? `${t.label}: ` : ''}${report.options.method} ${code(t.url)}`);
  p();
  p(settingLine(report));
  p();
  p('## Requests per second');
  p();
  table(
    [
      target,
      ['median', (t) => fmtInt(t.rps.median)],
      ['min', (t) => fmtInt(t.rps.min)],
      ['max', (t) => fmtInt(t.rps.max)],
      ['per round (in order)', (t) => t.rounds.map((r) => fmtInt(r.rps)).join(' · '), '---'],
    ],
    report.targets,
  );
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
  table<ClassRow>(
    [
      many && ['target', (r) => r.target.label, '---'],
      ['class', (r) => r.cls, '---'],
      ['responses', (r) => fmtInt(r.c.count)],
      ['share', (r) => share(r.c.count, r.total)],
      ['p50', (r) => fmtMs(r.c.p50)],
      ['p90', (r) => fmtMs(r.c.p90)],
      ['p99', (r) => fmtMs(r.c.p99)],
      ['p99.9', (r) => fmtMs(r.c.p999)],
      ['max', (r) => fmtMs(r.c.max)],
      ['mean', (r) => fmtMs(r.c.mean)],
    ],
    report.targets.flatMap(classRows),
  );
  p();
  p('## Status codes and errors');
  p();
  table(
    [
      target,
      [
        'status codes',
        (t) =>
          Object.entries(t.statuses)
            .map(([status, n]) => `${status}: ${fmtInt(n)}`)
            .join(', ') || 'none',
        '---',
      ],
      ['socket errors', (t) => fmtInt(t.errors.socket)],
      ['time-outs', (t) => fmtInt(t.errors.timeouts)],
    ],
    report.targets,
  );
  p();
  return `${text()}`;
}
