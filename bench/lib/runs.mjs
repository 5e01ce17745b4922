// The frame of a measured run, the same for every runner: its raw folder and summary, the rounds (servers
// in rotated order, each started, checked, warmed up and measured route by route), and --rerender.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, invocation, parseWrk, rotation } from './common.mjs';
import { peakRssMiB } from './memory.mjs';
import { killLive, measureWrk, stopServer, wrkCommand } from './processes.mjs';
import { readSummary } from './report.mjs';

/**
 * The start of a measured run of the runner (`script`, its `name`, which is also its npm script, and
 * `envPrefix`, that of its environment variables, if it has any): its raw folder,
 * results/raw/<rawPrefix><start time>/ (created; `rawPrefix` is `<script>-` unless given), the load
 * average before it and the command as typed. Returns the frame of the run's summary: { facts,
 * startedAt, pin, loadBefore, rawDir, command }.
 */
export function beginRun({ script, name, envPrefix, rawPrefix = `${script}-` }, { facts, pin }) {
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const rawDir = join(BENCH_DIR, 'results', 'raw', `${rawPrefix}${stamp}`);
  mkdirSync(rawDir, { recursive: true });
  const command = invocation(pathToFileURL(join(BENCH_DIR, `${script}.mjs`)), name, envPrefix);
  return { facts, startedAt, pin, loadBefore: loadavg(), rawDir, command };
}

/**
 * The rounds of a run (`run` from beginRun()): per round the runner's servers in rotated order, recorded in
 * the order it resolves to. Per server: `beforeStart(server)`, `start(server)`, `check(server)`, then per
 * route of `routesOf(server)` (GET `pathOf(route)`, or what the wrk Lua script `scriptOf(route)` sends
 * there when it gives one) a discarded warm-up of --warmup s (none for 0) and a measured run of
 * --duration s with the CPU of the server, wrk and `moreCpu` sampled (see measureWrk()),
 * each wrk output saved in the raw folder (r<round>-<server>-<route>-warmup.txt and …-<route>.txt), and
 * the server's peak RSS (VmHWM, in MiB) read as the measured run ends; then the server is stopped and
 * `afterStop(server, round, server process)` runs. `counters` ({ key, title, read(), change(server,
 * before, after) }), if given, are read just before and after each measured run; their change joins the
 * run's raw file (as `# <title>: …`) and its result (as `key`). Each result, { round, …parseWrk(), cpu,
 * peakRssMiB, [key] }, goes to `record(server, route, result)`. Any error kills what still runs and fails
 * the runner.
 */
export async function runRounds(
  runner,
  { pin, rawDir },
  { start, check, routesOf, pathOf, scriptOf, moreCpu, beforeStart, counters, record, afterStop },
) {
  const { opts } = runner;
  const wrk = (route, seconds) => wrkCommand(pin, opts, seconds, pathOf(route), scriptOf?.(route));
  return eachRound(runner, opts.servers, async (server, round) => {
    await beforeStart?.(server);
    const active = await start(server);
    try {
      await check(server);
      for (const route of routesOf(server)) {
        const base = join(rawDir, `r${round}-${server}-${route}`);
        if (opts.warmup > 0) {
          const warm = await measureWrk(wrk(route, opts.warmup), opts.warmup);
          writeFileSync(`${base}-warmup.txt`, `$ ${warm.command}\n${warm.text}`);
        }
        const before = await counters?.read();
        const run = await measureWrk(wrk(route, opts.duration), opts.duration, active.child.pid, moreCpu);
        const peak = peakRssMiB(active.child.pid);
        const change = counters && (await counters.change(server, before, await counters.read()));
        writeFileSync(
          `${base}.txt`,
          `$ ${run.command}\n${run.text}\n# CPU, % of one core: ${JSON.stringify(run.cpu ?? {})}\n# peak RSS (VmHWM), MiB: ${peak}\n${counters ? `# ${counters.title}: ${JSON.stringify(change)}\n` : ''}`,
        );
        if (active.isDead()) throw new Error(`${server} died during the run:\n${active.log.join('')}`);
        const result = { round, ...parseWrk(run.text), cpu: run.cpu ?? {}, peakRssMiB: peak };
        if (counters) result[counters.key] = change;
        record(server, route, result);
      }
    } finally {
      await stopServer(active);
      afterStop?.(server, round, active);
    }
  });
}

/**
 * The rounds of a run of the runner: --rounds rounds, each with `items` in rotated order, `each(item,
 * round)` awaited for each; resolves to the order of every round. Any error kills what still runs and
 * fails the runner, with the error's `stack` if `stack` is true.
 */
export async function eachRound({ fail, opts }, items, each, { stack = false } = {}) {
  const order = [];
  try {
    for (let round = 1; round <= opts.rounds; round++) {
      const ordered = rotation(items, round);
      order.push(ordered);
      for (const item of ordered) await each(item, round);
    }
  } catch (err) {
    killLive();
    fail(err instanceof Error ? (stack ? err.stack : err.message) : String(err));
  }
  return order;
}

/**
 * The end of a run: its summary (`run` from beginRun(), the runner's options, the end time and `data`:
 * results, order, …) saved as summary.json in the raw folder, then the report written by
 * `writeReport(summary)` and shown.
 */
export function finishRun({ name, opts }, run, data, writeReport) {
  const { facts, startedAt, pin, loadBefore, rawDir, command } = run;
  const summary = {
    opts,
    facts,
    startedAt,
    finishedAt: new Date(),
    ...data,
    pin,
    loadBefore,
    rawDir,
    command,
  };
  writeFileSync(join(rawDir, 'summary.json'), JSON.stringify(summary, null, 2));
  writeReport(summary);
  console.log(
    `${name}: wrote ${relative(process.cwd(), opts.out) || opts.out} and ${relative(process.cwd(), rawDir)}/`,
  );
  console.log(readFileSync(opts.out, 'utf8'));
}

/**
 * --rerender: rewrites the runner's report with `writeReport(summary)` from the summary.json of a run,
 * whose options it takes over (but for --out, given now), in the runner's `opts` and the summary's.
 */
export function rerenderReport({ name, flags, opts }, writeReport) {
  const summary = readSummary(flags.rerender);
  summary.opts = Object.assign(opts, summary.opts, { out: opts.out });
  writeReport(summary);
  console.log(`${name}: rewrote ${relative(process.cwd(), opts.out) || opts.out} from ${flags.rerender}`);
}
