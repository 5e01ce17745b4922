/**
 * The little SVG the HTML report needs, written out as text: scales, ticks, axes and a frame. No library,
 * no script: the page must open from a file, offline, as it was written.
 */

import { escapeHtml } from '../internal/html.ts';

export { escapeHtml };

/** A number with at most two decimals, for coordinates. */
export const n2 = (n: number): string => (Number.isFinite(n) ? String(Math.round(n * 100) / 100) : '0');

/** A map from a domain to a range of pixels. */
export interface Scale {
  (value: number): number;
  ticks: number[];
  label(value: number): string;
}

/** `step` such that about `count` steps cover `span`: 1, 2 or 5 times a power of ten. */
function niceStep(span: number, count: number): number {
  const raw = span / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const m = raw / power;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
}

/** A short label for a tick value: `1.5k`, `12k`, `0.25`. */
export function shortNumber(v: number): string {
  if (v >= 1e6) return `${n2(v / 1e6)}M`;
  if (v >= 1e4) return `${n2(v / 1e3)}k`;
  return n2(v);
}

/** A linear scale from [0 or lo, hi] onto [r0, r1], its domain widened to nice ticks. */
export function linearScale(lo: number, hi: number, r0: number, r1: number, count = 5): Scale {
  const span = hi - lo || Math.abs(hi) || 1;
  const step = niceStep(span, count);
  const d0 = Math.floor(lo / step) * step;
  const d1 = Math.max(d0 + step, Math.ceil(hi / step) * step);
  const ticks: number[] = [];
  for (let v = d0; v <= d1 + step / 2; v += step) ticks.push(Math.round(v / step) * step);
  const scale = ((v: number) => r0 + ((v - d0) / (d1 - d0)) * (r1 - r0)) as Scale;
  scale.ticks = ticks;
  scale.label = shortNumber;
  return scale;
}

/** A log scale over [lo, hi] (> 0) onto [r0, r1], widened to 1-2-5 ticks. */
export function logScale(lo: number, hi: number, r0: number, r1: number): Scale {
  const ladder = (e: number) => [1, 2, 5].map((m) => m * 10 ** e);
  const safeLo = Math.max(lo, 0.001);
  const safeHi = Math.max(hi, safeLo * 2);
  let d0 = 10 ** Math.floor(Math.log10(safeLo));
  for (const v of ladder(Math.floor(Math.log10(safeLo)))) if (v <= safeLo) d0 = v;
  let d1 = 10 ** Math.ceil(Math.log10(safeHi));
  for (const v of ladder(Math.floor(Math.log10(safeHi))).reverse()) if (v >= safeHi) d1 = v;
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(d0)); e <= Math.ceil(Math.log10(d1)); e++) {
    for (const v of ladder(e)) if (v >= d0 * 0.999 && v <= d1 * 1.001) ticks.push(v);
  }
  const span = Math.log10(d1) - Math.log10(d0);
  const scale = ((v: number) =>
    r0 + ((Math.log10(Math.max(v, d0)) - Math.log10(d0)) / span) * (r1 - r0)) as Scale;
  // With many decades, only the powers of ten get a tick.
  scale.ticks = ticks.length > 13 ? ticks.filter((v) => Number.isInteger(Math.log10(v))) : ticks;
  scale.label = (v) => (v < 1 ? String(Number(v.toPrecision(2))) : shortNumber(v));
  return scale;
}

/** The plot area of a chart: its size and its margins. */
export interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** A frame of `width` × `height` px with room for tick labels on the left and below. */
export function frame(width: number, height: number): Frame {
  return { width, height, left: 56, right: width - 16, top: 16, bottom: height - 40 };
}

/** The grid, the axes' tick labels and their titles of a chart. */
export function axes(f: Frame, x: Scale, y: Scale, xTitle: string, yTitle: string): string {
  const parts: string[] = [];
  for (const v of y.ticks) {
    const py = n2(y(v));
    parts.push(`<line class="grid" x1="${f.left}" x2="${f.right}" y1="${py}" y2="${py}"/>`);
    parts.push(
      `<text class="tick" x="${f.left - 6}" y="${py}" text-anchor="end" dy="0.32em">${y.label(v)}</text>`,
    );
  }
  for (const v of x.ticks) {
    const px = n2(x(v));
    parts.push(`<line class="grid" x1="${px}" x2="${px}" y1="${f.top}" y2="${f.bottom}"/>`);
    parts.push(`<text class="tick" x="${px}" y="${f.bottom + 16}" text-anchor="middle">${x.label(v)}</text>`);
  }
  parts.push(`<line class="axis" x1="${f.left}" x2="${f.right}" y1="${f.bottom}" y2="${f.bottom}"/>`);
  parts.push(`<line class="axis" x1="${f.left}" x2="${f.left}" y1="${f.top}" y2="${f.bottom}"/>`);
  parts.push(
    `<text class="title" x="${n2((f.left + f.right) / 2)}" y="${f.height - 4}" text-anchor="middle">${escapeHtml(xTitle)}</text>`,
  );
  parts.push(
    `<text class="title" transform="translate(14 ${n2((f.top + f.bottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeHtml(yTitle)}</text>`,
  );
  return parts.join('');
}

/** An `<svg>` element of frame `f`, described by `label` for screen readers. */
export function svg(f: Frame, label: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${f.width} ${f.height}" width="${f.width}" height="${f.height}" role="img" aria-label="${escapeHtml(label)}"><title>${escapeHtml(label)}</title>${body}</svg>`;
}
