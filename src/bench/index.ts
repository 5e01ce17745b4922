/**
 * weir bench's modules as the project's own benchmarks (bench/*.mjs) use them: reading wrk's output,
 * latency histograms, the way numbers are written, and the command itself. Not a public entry point.
 */
export { benchCommand, writeReports } from './command.ts';
export { fmtInt, fmtMs, fmtPct, fmtRatio, markdownWriter } from './format.ts';
export { bucketOf, Histogram } from './histogram.ts';
export { findOnPath } from './pick-engine.ts';
export { classOf, Recorder } from './recorder.ts';
export { median } from './report.ts';
export { renderHtml } from './report-html.ts';
export { renderMarkdown } from './report-md.ts';
export { rotation } from './run.ts';
export { parseWrk, toMs, wrkCounts, wrkPercentiles } from './wrk-output.ts';
