// Statistics of the rounds of a run: the median of per-round ratios with a bootstrap interval, seeded, so
// that a report rewritten from the same results (--rerender) gives the same interval.

/** The median of `values` (the mean of the two middle ones for an even count); NaN for none. */
export function medianOf(values) {
  const v = [...values].sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** A 32-bit seed from a string (FNV-1a), so that each comparison draws its own reproducible resamples. */
export function seedOf(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A seeded generator of numbers in [0, 1) (mulberry32). */
export function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The median of `values` (per-round ratios) and its bootstrap percentile interval: `resamples` times, as
 * many values as there are drawn with replacement (rounds resampled) and their median taken; `low` and
 * `high` are the (1 - level) / 2 and (1 + level) / 2 quantiles of those medians. The draws come from
 * seededRandom(`seed`, a number or a string). { median, low, high, n }; NaNs for no values.
 */
export function bootstrapMedian(values, { resamples = 2000, level = 0.95, seed = 1 } = {}) {
  const n = values.length;
  if (n === 0) return { median: Number.NaN, low: Number.NaN, high: Number.NaN, n };
  const random = seededRandom(typeof seed === 'string' ? seedOf(seed) : seed);
  const medians = new Float64Array(resamples);
  const draw = new Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) draw[i] = values[Math.floor(random() * n)];
    medians[r] = medianOf(draw);
  }
  medians.sort();
  const at = (q) => medians[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  return { median: medianOf(values), low: at((1 - level) / 2), high: at((1 + level) / 2), n };
}
