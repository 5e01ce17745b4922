/**
 * weir bench's modules as the project's own benchmarks (bench/lib.mjs) use them: reading wrk's output,
 * the rotation of the order over rounds, the median, the way numbers are written, the PATH lookup. Not a
 * public entry point.
 */
export { fmtInt, fmtMs, fmtPct, fmtRatio, markdownWriter } from './format.ts';
export { findOnPath } from './pick-engine.ts';
export { median } from './report.ts';
export { rotation } from './run.ts';
export { parseWrk, toMs, wrkCounts, wrkPercentiles } from './wrk-output.ts';
