/**
 * The three plots of the HTML report: requests per second per round, latency over time (p50 and p99 per
 * second and status class) and the latency histogram per status class.
 */
import { Histogram } from './histogram.ts';
import { STATUS_CLASSES, type StatusClass } from './recorder.ts';
import type { BenchReport, TargetJson } from './report.ts';
import { axes, escapeHtml, frame, linearScale, logScale, n2, svg } from './svg.ts';

/** The colour of each status class: successes green, client errors orange, server errors red. */
export const CLASS_COLOUR: Record<StatusClass, string> = {
  '2xx': '#2e7d32',
  '3xx': '#1565c0',
  '4xx': '#ef6c00',
  '5xx': '#c62828',
  '1xx': '#6a1b9a',
  other: '#616161',
};

/** The colour of each target in the req/s plot. */
export const TARGET_COLOUR = { A: '#3949ab', B: '#00897b' } as const;

const WIDTH = 880;

/** Grouped bars: per round, one bar per target, its req/s written above it. */
export function rpsChart(report: BenchReport): string {
  const f = frame(WIDTH, 260);
  const rounds = report.options.rounds;
  const max = Math.max(1, ...report.targets.flatMap((t) => t.rounds.map((r) => r.rps)));
  const y = linearScale(0, max * 1.12, f.bottom, f.top);
  const group = (f.right - f.left) / rounds;
  const bar = Math.min(80, (group * 0.7) / report.targets.length);
  const x = linearScale(0, 1, f.left, f.right);
  x.ticks = [];
  const parts = [axes(f, x, y, 'round', 'requests per second')];
  for (let round = 1; round <= rounds; round++) {
    const middle = f.left + group * (round - 0.5);
    parts.push(
      `<text class="tick" x="${n2(middle)}" y="${f.bottom + 16}" text-anchor="middle">${round}</text>`,
    );
    report.targets.forEach((t, i) => {
      const r = t.rounds.find((x) => x.round === round);
      if (r === undefined) return;
      const left = middle - (bar * report.targets.length) / 2 + i * bar;
      const top = y(r.rps);
      parts.push(
        `<rect x="${n2(left + 2)}" y="${n2(top)}" width="${n2(bar - 4)}" height="${n2(f.bottom - top)}" fill="${TARGET_COLOUR[t.label]}"><title>${t.label} round ${round}: ${Math.round(r.rps)} req/s</title></rect>`,
        `<text class="value" x="${n2(left + bar / 2)}" y="${n2(top - 4)}" text-anchor="middle">${Math.round(r.rps).toLocaleString('en-US')}</text>`,
      );
    });
  }
  const label = `Requests per second per round${report.targets.length > 1 ? ' and target' : ''}`;
  return svg(f, label, parts.join(''));
}

/**
 * Latency over time for one target: the rounds side by side on one time axis, per second the p50 (solid)
 * and p99 (dashed) of each status class, on a log scale so a 0.2 ms 503 and a 40 ms 200 both read.
 */
export function timelineChart(t: TargetJson): string {
  const f = frame(WIDTH, 300);
  const spans = t.rounds.map((r) => Math.max(r.timeline.length, Math.ceil(r.seconds)));
  const total = Math.max(
    1,
    spans.reduce((a, b) => a + b, 0),
  );
  const values = t.rounds.flatMap((r) =>
    r.timeline.flatMap((s) => Object.values(s.classes).flatMap((c) => (c ? [c.p50, c.p99] : []))),
  );
  const positive = values.filter((v) => v > 0);
  const y = logScale(Math.min(...positive, 1), Math.max(...positive, 1), f.bottom, f.top);
  const x = linearScale(0, total, f.left, f.right, 10);
  x.ticks = x.ticks.filter((v) => v <= total);
  const parts = [axes(f, x, y, 'seconds (rounds one after the other)', 'latency, ms (log)')];
  let offset = 0;
  t.rounds.forEach((r, i) => {
    if (i > 0) {
      const px = n2(x(offset));
      parts.push(`<line class="round" x1="${px}" x2="${px}" y1="${f.top}" y2="${f.bottom}"/>`);
    }
    parts.push(`<text class="tick" x="${n2(x(offset) + 4)}" y="${f.top + 10}">round ${r.round}</text>`);
    for (const cls of STATUS_CLASSES) {
      for (const [key, dash] of [
        ['p50', ''],
        ['p99', ' stroke-dasharray="5 3"'],
      ] as const) {
        // A second without a response of this class breaks the line rather than bridging the gap.
        const runs: string[][] = [[]];
        for (const s of r.timeline) {
          const c = s.classes[cls];
          if (c === undefined || c.count === 0) {
            if ((runs.at(-1) ?? []).length > 0) runs.push([]);
            continue;
          }
          runs.at(-1)?.push(`${n2(x(offset + s.second + 0.5))},${n2(y(c[key]))}`);
        }
        for (const points of runs) {
          if (points.length === 0) continue;
          const shape =
            points.length === 1
              ? `<circle cx="${points[0]?.split(',')[0]}" cy="${points[0]?.split(',')[1]}" r="2" fill="${CLASS_COLOUR[cls]}"/>`
              : `<polyline fill="none" stroke="${CLASS_COLOUR[cls]}" stroke-width="1.6"${dash} points="${points.join(' ')}"/>`;
          parts.push(shape);
        }
      }
    }
    offset += spans[i] ?? 0;
  });
  return svg(f, `Latency over time of ${t.label}: p50 and p99 per second and status class`, parts.join(''));
}

/** Up to `count` log-spaced bins between the lowest and highest latency of `histograms`, in ms. */
function bins(histograms: Histogram[], count: number): number[] {
  const lows = histograms.flatMap((h) => h.buckets().map(([low]) => low / 1000));
  const highs = histograms.flatMap((h) => h.buckets().map(([, high]) => high / 1000));
  const lo = Math.max(0.001, Math.min(...lows));
  const hi = Math.max(lo * 1.5, Math.max(...highs));
  const edges: number[] = [];
  for (let i = 0; i <= count; i++) edges.push(lo * (hi / lo) ** (i / count));
  return edges;
}

/**
 * The latency distribution of one target per status class, every round merged: per log-spaced bin the
 * share of the class's responses, as a step line over a light fill.
 */
export function histogramChart(t: TargetJson): string {
  const f = frame(WIDTH, 260);
  const classes = STATUS_CLASSES.filter((c) => (t.classes[c]?.count ?? 0) > 0);
  const histograms = classes.map((c) => Histogram.fromJSON(t.classes[c]?.histogram ?? emptyHistogram));
  if (classes.length === 0) return svg(f, `No responses from ${t.label}`, '');
  const edges = bins(histograms, 48);
  const shares = histograms.map((h) => {
    const counts = new Array<number>(edges.length - 1).fill(0);
    for (const [low, high, n] of h.buckets()) {
      const mid = (low + high) / 2000;
      let i = edges.findIndex((e, k) => k > 0 && mid <= e) - 1;
      if (i < 0) i = mid < (edges[0] ?? 0) ? 0 : counts.length - 1;
      counts[i] = (counts[i] ?? 0) + n;
    }
    return counts.map((n) => (n / h.count) * 100);
  });
  const x = logScale(edges[0] ?? 0.001, edges.at(-1) ?? 1, f.left, f.right);
  const y = linearScale(0, Math.max(1, ...shares.flat()) * 1.08, f.bottom, f.top);
  const parts = [axes(f, x, y, 'latency, ms (log)', '% of the class’s responses')];
  classes.forEach((cls, k) => {
    const points: string[] = [`${n2(x(edges[0] ?? 0))},${n2(f.bottom)}`];
    (shares[k] ?? []).forEach((share, i) => {
      const py = n2(y(share));
      points.push(`${n2(x(edges[i] ?? 0))},${py}`, `${n2(x(edges[i + 1] ?? 0))},${py}`);
    });
    points.push(`${n2(x(edges.at(-1) ?? 0))},${n2(f.bottom)}`);
    const colour = CLASS_COLOUR[cls];
    parts.push(
      `<polygon points="${points.join(' ')}" fill="${colour}" fill-opacity="0.18" stroke="${colour}" stroke-width="1.5"><title>${escapeHtml(cls)}</title></polygon>`,
    );
  });
  return svg(f, `Latency histogram of ${t.label} per status class`, parts.join(''));
}

const emptyHistogram = { count: 0, minUs: 0, maxUs: 0, sumUs: 0, buckets: [] };

/** The legend of the status classes `classes`, with the line styles of the timeline. */
export function classLegend(classes: readonly StatusClass[]): string {
  const items = classes.map(
    (cls) =>
      `<span class="key"><span class="swatch" style="background:${CLASS_COLOUR[cls]}"></span>${escapeHtml(cls)}</span>`,
  );
  return `<p class="legend">${items.join(' ')} <span class="key">— p50</span> <span class="key">- - p99</span></p>`;
}
