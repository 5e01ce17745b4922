// The parts of the runners' Markdown reports that are the same: the writer (weir bench's, with biome's
// layout on top), the machine and the command, the table of every measured run, the commands that ran,
// the caveats on wrk, and the ratios of req/s between servers.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fmtInt, fmtMs, fmtPct, ROOT, weirBench } from './common.mjs';
import { maxCpu } from './cpu.mjs';
import { fmtMiB } from './memory.mjs';
import { wrkCommand } from './processes.mjs';

/** The round whose req/s is the median (the lower middle one for an even count), with its latencies. */
export function medianRound(runs) {
  const sorted = [...runs].sort((a, b) => a.rps - b.rps);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/**
 * `key` (req/s unless given) of the results `a` over that of the results `b` of the same round, round by
 * round (rounds of `a` that `b` lacks are left out): runs minutes apart at most, so these ratios cancel
 * slow drift of the machine.
 */
export const pairedRatios = (a = [], b = [], key = 'rps') =>
  a.flatMap((x) => {
    const y = b.find((r) => r.round === x.round);
    return y ? [x[key] / y[key]] : [];
  });

/** Ratios as the reports list them: `1.02, 0.98, 1.00`. */
export const fmtRatios = (ratios, digits = 2) => ratios.map((r) => r.toFixed(digits)).join(', ');

/** The order of the rounds as the reports give it, `round 1: a → b; round 2: b → a`, named by `label`. */
export const roundsOrder = (order, label = (s) => s) =>
  order.map((o, i) => `round ${i + 1}: ${o.map(label).join(' → ')}`).join('; ');

/** A run's summary.json, with its dates as Dates again (for --rerender). */
export function readSummary(file) {
  const summary = JSON.parse(readFileSync(file, 'utf8'));
  return { ...summary, startedAt: new Date(summary.startedAt), finishedAt: new Date(summary.finishedAt) };
}

/**
 * A Markdown report being written: p(line), row(cells) for a table row, table(columns, items) for a whole
 * table (see weir bench's markdownWriter()), lines(list) for a line per item of `list` that is not false or
 * undefined (so that `condition && text` leaves a line out), and write(file), which saves it and lays it
 * out with biome. `name` prefixes the warning if biome fails.
 */
export function markdown(name) {
  const { p, row, table, text } = weirBench.markdownWriter();
  const lines = (list) => {
    for (const line of list) if (line !== false && line !== undefined) p(line);
  };
  const write = (file) => {
    writeFileSync(file, text());
    formatMarkdown(file, name);
  };
  return { p, row, table, lines, write };
}

/**
 * Lays the report out as the repo's formatter would, so `npm run lint` stays clean: biome formats Markdown
 * from 2.6 on; an older biome (the repo pins 2.5.15) ignores .md files, in `npm run lint` too, and the
 * report stays as written. Files outside the repo are left as written.
 */
export function formatMarkdown(file, name = 'bench') {
  const biome = join(ROOT, 'node_modules', '.bin', 'biome');
  if (!existsSync(biome) || relative(ROOT, file).startsWith('..')) return;
  const result = spawnSync(biome, ['format', '--write', file], { cwd: ROOT, encoding: 'utf8' });
  const ignored = /provided but ignored/.test(`${result.stdout}${result.stderr}`);
  if (result.status !== 0 && !ignored)
    console.warn(`${name}: biome could not format ${file}; left as written`);
}

/**
 * The sections "Machine" and "Command" of a report. `tools` are [fact, value] rows before weir's, `more`
 * rows after it; `weir: null` leaves weir's row out (a run that measures no weir).
 */
export function machineAndCommand(
  p,
  { facts, startedAt, finishedAt, loadBefore, command },
  { tools = [], more = [], weir = 'built with `npm run build` (dist/)' } = {},
) {
  p('## Machine');
  p();
  p('| fact | value |');
  p('| --- | --- |');
  p(`| date | ${startedAt.toISOString()} (took ${Math.round((finishedAt - startedAt) / 1000)} s) |`);
  p(`| nproc | ${facts.nproc} |`);
  p(`| CPU | ${facts.cpuModel} |`);
  p(`| kernel | ${facts.kernel} |`);
  p(`| Node | ${facts.node} |`);
  p(`| wrk | ${facts.wrk} |`);
  for (const [fact, value] of tools) p(`| ${fact} | ${value} |`);
  if (weir !== null) p(`| weir | commit ${facts.commit}, ${weir} |`);
  for (const [fact, value] of more) p(`| ${fact} | ${value} |`);
  p(`| load average before the run | ${loadBefore.map((n) => n.toFixed(2)).join(', ')} |`);
  p();
  p('## Command');
  p();
  p('```sh');
  p(command);
  p('```');
  p();
}

/**
 * The report's table of every measured run. `runs` are [cells that name the run, its result]; `lead`
 * heads those cells; the CPU columns are the server's, those of `processes` ([heading, key] …), wrk's, the
 * rest's (`other(cpu)`) and the whole machine's; with `rss`, the server's peak RSS (see runRounds()).
 */
export function runsTable(table, { lead, processes, other, rss = false }, runs) {
  const cpu =
    (key) =>
    ([, r]) =>
      fmtPct(r.cpu?.[key]);
  table(
    [
      ...lead.map((heading, i) => [heading, ([cells]) => cells[i], '---']),
      ['round', ([, r]) => r.round],
      ['req/s', ([, r]) => fmtInt(r.rps)],
      ['p50 ms', ([, r]) => fmtMs(r.p50)],
      ['p99 ms', ([, r]) => fmtMs(r.p99)],
      ['server CPU', cpu('server')],
      ...processes.map(([heading, key]) => [heading, cpu(key)]),
      ['wrk CPU', cpu('wrk')],
      ['other CPU', ([, r]) => fmtPct(other(r.cpu ?? {}))],
      ['machine CPU', cpu('machine')],
      rss && ['peak RSS MiB', ([, r]) => fmtMiB(r.peakRssMiB)],
      ['socket errors', ([, r]) => r.socketErrors],
      ['non-2xx', ([, r]) => r.non2xx],
    ],
    runs,
  );
}

/**
 * The report's block "which ran, per server and route": the server's command line `server` after its
 * pinning, then wrk's for the warm-up and for the measured run (the request path left as <path>).
 */
export function commandsRun(p, pin, opts, server) {
  p('which ran, per server and route:');
  p();
  p('```sh');
  p(`${pin.server.join(' ')} ${server}`.trim());
  const wrk = (seconds) => wrkCommand(pin, opts, seconds, '<path>').join(' ');
  p(`${wrk(opts.warmup)}   # warm-up, discarded`);
  p(`${wrk(opts.duration)}   # measured`);
  p('```');
  p();
}

/**
 * The report's caveat on wrk's errors in `runs` ([what ran, its result] …), then, unless `cpu` is false,
 * the most CPU wrk used.
 */
export function wrkCaveats(p, runs, { cpu = true } = {}) {
  const errors = runs
    .filter(([, r]) => r.socketErrors > 0 || r.non2xx > 0)
    .map(([what, r]) => `${what} round ${r.round}: ${r.socketErrorText} non-2xx ${r.non2xx}`);
  p(
    errors.length > 0
      ? `- **wrk reported errors**: ${errors.join('; ')}.`
      : '- wrk reported no socket errors and no non-2xx responses in any measured run.',
  );
  if (cpu)
    p(
      `- wrk used at most ${fmtPct(
        maxCpu(
          runs.map(([, r]) => r),
          'wrk',
        ),
      )} of its core.`,
    );
}

/** A server's warnings and errors from its output `text`: pino's levels 40 and above, or the words. */
export const serverWarnings = (text) =>
  text.split('\n').filter((line) => {
    const level = /"level":(\d+)/.exec(line);
    return level ? Number(level[1]) >= 40 : /\b(warn|error)/i.test(line);
  });

/**
 * The report's caveat on the warnings or errors servers logged (`warnings`: { what ran: lines }): `some`
 * and the first line of each, or `none`.
 */
export function warningsCaveat(p, warnings = {}, { some, none }) {
  const warned = Object.entries(warnings).filter(([, lines]) => lines.length > 0);
  p(
    warned.length > 0
      ? `${some}: ${warned.map(([k, lines]) => `${k}: ${lines.length} line(s), first ${JSON.stringify(lines[0].slice(0, 300))}`).join('; ')}.`
      : none,
  );
}
