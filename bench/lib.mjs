// What the benchmark runners share, one module per concern in bench/lib/: weir bench's modules and the paths
// (common), child processes and wrk (processes), CPU from /proc (cpu), the machine's facts and the waits for
// a quiet machine (machine), a process's resident set (memory), the command line (options), the frame of a
// run (runs), the common parts of the reports (report), CPU profiles (profile), the reference service
// (service), the runner's own Redis connection (redis) and what the runners that measure middleware on one
// route share (route-cost, route-cost-report). Reading wrk's output, the median, the rotation of the servers
// over the rounds, the Markdown tables and the way numbers are written come from weir bench (src/bench),
// loaded from source with tsx. Traffic goes to 127.0.0.1 only.

export * from './lib/common.mjs';
export * from './lib/cpu.mjs';
export * from './lib/machine.mjs';
export * from './lib/memory.mjs';
export * from './lib/options.mjs';
export * from './lib/pairs.mjs';
export * from './lib/processes.mjs';
export * from './lib/profile.mjs';
export * from './lib/redis.mjs';
export * from './lib/report.mjs';
export * from './lib/route-cost.mjs';
export * from './lib/route-cost-report.mjs';
export * from './lib/runs.mjs';
export * from './lib/service.mjs';
export * from './lib/stats.mjs';
