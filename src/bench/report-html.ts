/**
 * report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched) with the tables
 * of report.md and the plots of charts.ts. Every text taken from the run (URLs, header names) is escaped.
 */
import {
  CLASS_COLOUR,
  classLegend,
  histogramChart,
  rpsChart,
  TARGET_COLOUR,
  timelineChart,
} from './charts.ts';
import { fmtInt, fmtMs, fmtRatio } from './format.ts';
import { STATUS_CLASSES } from './recorder.ts';
import type { BenchReport, TargetJson } from './report.ts';
import { settingLine } from './report-md.ts';
import { escapeHtml } from './svg.ts';

const CSS = `
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1b1b;
  margin: 0 auto; max-width: 920px; padding: 24px 20px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; }
h3 { font-size: 16px; margin: 20px 0 6px; }
.setting, .note { color: #555; font-size: 13.5px; }
code { font: 13px ui-monospace, "SFMono-Regular", Menlo, monospace; background: #f3f3f3; padding: 1px 4px;
  border-radius: 3px; word-break: break-all; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #e3e3e3; text-align: right; }
th.l, td.l { text-align: left; }
th { font-weight: 600; background: #fafafa; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; }
.key { margin-right: 12px; white-space: nowrap; } .legend { margin: 4px 0; font-size: 13.5px; }
svg { display: block; max-width: 100%; height: auto; }
svg .grid { stroke: #ececec; } svg .axis { stroke: #888; } svg .round { stroke: #999; stroke-dasharray: 2 3; }
svg text { font: 11px system-ui, sans-serif; fill: #444; } svg .title { font-size: 12px; fill: #222; }
svg .value { font-size: 11px; fill: #222; }
`;

const swatch = (colour: string) => `<span class="swatch" style="background:${colour}"></span>`;

function latencyTable(targets: readonly TargetJson[]): string {
  const many = targets.length > 1;
  const rows: string[] = [];
  for (const t of targets) {
    const total = Object.values(t.classes).reduce((sum, c) => sum + (c?.count ?? 0), 0);
    for (const cls of STATUS_CLASSES) {
      const c = t.classes[cls];
      if (c === undefined) continue;
      const cells = [
        fmtInt(c.count),
        total === 0 ? 'n/a' : `${((c.count / total) * 100).toFixed(1)} %`,
        ...[c.p50, c.p90, c.p99, c.p999, c.max, c.mean].map(fmtMs),
      ];
      rows.push(
        `<tr>${many ? `<td class="l">${t.label}</td>` : ''}<td class="l">${swatch(CLASS_COLOUR[cls])}${cls}</td>${cells.map((x) => `<td>${x}</td>`).join('')}</tr>`,
      );
    }
  }
  const head = ['responses', 'share', 'p50', 'p90', 'p99', 'p99.9', 'max', 'mean'].map(
    (h) => `<th>${h}</th>`,
  );
  return `<table><tr>${many ? '<th class="l">target</th>' : ''}<th class="l">class</th>${head.join('')}</tr>${rows.join('')}</table>`;
}

function rpsTable(report: BenchReport): string {
  const many = report.targets.length > 1;
  const rows = report.targets.map((t) => {
    const label = many ? `<td class="l">${swatch(TARGET_COLOUR[t.label])}${t.label}</td>` : '';
    const rounds = t.rounds.map((r) => fmtInt(r.rps)).join(' · ');
    return `<tr>${label}<td>${fmtInt(t.rps.median)}</td><td>${fmtInt(t.rps.min)}</td><td>${fmtInt(t.rps.max)}</td><td class="l">${rounds}</td></tr>`;
  });
  return `<table><tr>${many ? '<th class="l">target</th>' : ''}<th>median</th><th>min</th><th>max</th><th class="l">per round</th></tr>${rows.join('')}</table>`;
}

function targetSection(t: TargetJson, many: boolean): string {
  const classes = STATUS_CLASSES.filter((c) => (t.classes[c]?.count ?? 0) > 0);
  const codes = Object.entries(t.statuses)
    .map(([status, n]) => `${escapeHtml(status)}: ${fmtInt(n)}`)
    .join(', ');
  return `
<h2>${many ? `${t.label}: latency` : 'Latency'}</h2>
<p><code>${escapeHtml(t.url)}</code> — status codes: ${codes || 'none'}; socket errors: ${fmtInt(t.errors.socket)};
time-outs: ${fmtInt(t.errors.timeouts)}.</p>
<h3>Over time</h3>
${classLegend(classes)}
${timelineChart(t)}
<h3>Histogram</h3>
${classLegend(classes).replace(/ <span class="key">— p50.*<\/p>$/, '</p>')}
${histogramChart(t)}`;
}

/** The whole report as one HTML page. */
export function renderHtml(report: BenchReport): string {
  const many = report.targets.length > 1;
  const targets = report.targets
    .map(
      (t) =>
        `<li>${many ? `${t.label}: ` : ''}${escapeHtml(report.options.method)} <code>${escapeHtml(t.url)}</code></li>`,
    )
    .join('');
  const c = report.comparison;
  const comparison = c
    ? `<p>B against A: <b>${fmtRatio(c.rps)}</b> the requests per second; 2xx latency ${fmtRatio(c.p50)} at
p50 and ${fmtRatio(c.p99)} at p99. Order of the runs: ${report.order.map((o) => o.target).join(' ')}.</p>`
    : '';
  const legend = many
    ? `<p class="legend">${report.targets.map((t) => `<span class="key">${swatch(TARGET_COLOUR[t.label])}${t.label}</span>`).join('')}</p>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>weir bench — ${escapeHtml(report.targets.map((t) => t.url).join(' vs '))}</title>
<style>${CSS}</style>
</head>
<body>
<h1>weir bench</h1>
<ul>${targets}</ul>
<p class="setting">${escapeHtml(settingLine(report))}</p>
<h2>Requests per second</h2>
${rpsTable(report)}
${comparison}
${legend}
${rpsChart(report)}
<h2>Latency by status class</h2>
<p class="note">Every round together, in ms. Each status class has its own percentiles, so fast rejections
(a 503 from load shedding) do not pull the successes’ figures down.</p>
${latencyTable(report.targets)}
${report.targets.map((t) => targetSection(t, many)).join('\n')}
<p class="note">Written by weir bench on ${escapeHtml(report.finishedAt)}; the numbers are in report.json.</p>
</body>
</html>
`;
}
