// What the runners that measure middleware on one route (auth.mjs, idempotency.mjs, protection.mjs) share:
// their command line, the folder of their wrk scripts, the waits for a quiet machine, the rounds with the
// variants' order rotated, and one wrk run with what each request cost the server and Redis.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR, have, rotation } from './common.mjs';
import { clockTicks, processTicks, statTicks, userSysTicks } from './cpu.mjs';
import { waitForQuiet } from './machine.mjs';
import { wrkFigures } from './npm-service.mjs';
import { cleanupOnExit, measureWrk } from './processes.mjs';

/**
 * Reads the command line of bench/<script>.mjs with node:util's parseArgs; with -h or --help it prints the
 * help and exits with 0. Every such runner takes --rounds (1 to 10), --duration (1 to `maxDuration`
 * seconds), --connections, --port (default `port`), --redis (`redisHelp` in the help), --wait-others and
 * --out (bench/RESULTS-<script>.md); a bad --rounds, --duration or --connections exits with 2. `own` are
 * the runner's own flags ({ flag: { arg, help, after } }), each in the help after the flag `after`; the
 * help pads the flags to `width`. Returns { values, rounds, duration, connections, port, waitOthers }.
 */
export function routeCostCommandLine({ script, port, redisHelp, maxDuration = 30, own = {}, width = 20 }) {
  const common = {
    rounds: { arg: 'N', help: 'alternating rounds', default: '3' },
    duration: { arg: 'S', help: 'seconds of each measured wrk run', default: '10' },
    connections: { arg: 'N', help: 'wrk connections', default: '64' },
    port: { arg: 'N', help: "the server's port on 127.0.0.1", default: port },
    redis: { arg: 'URL', help: redisHelp, default: 'redis://127.0.0.1:6379' },
    'wait-others': {
      arg: 'S',
      help: 'longest wait for another bench runner or test run to end, then run anyway',
      default: '600',
    },
    out: {
      arg: 'FILE',
      help: 'where the Markdown report goes',
      default: join(BENCH_DIR, `RESULTS-${script}.md`),
      shown: `bench/RESULTS-${script}.md`,
    },
  };
  const specs = Object.entries(common).flatMap((entry) => [
    entry,
    ...Object.entries(own).filter(([, s]) => s.after === entry[0]),
  ]);
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(
        specs.map(([flag, s]) => [
          flag,
          s.default === undefined ? { type: 'string' } : { type: 'string', default: s.default },
        ]),
      ),
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    const line = ([flag, { arg, help, default: value, shown = value }]) =>
      `  ${`--${flag} ${arg}`.padEnd(width)}${help}${shown === undefined ? '' : ` (${shown})`}`;
    console.log(
      [
        `node bench/${script}.mjs [--rounds N] [--duration S] [--connections N] [--redis URL] [--out FILE]`,
        ...specs.map(line),
      ].join('\n'),
    );
    process.exit(0);
  }
  const [rounds, duration, connections] = [values.rounds, values.duration, values.connections].map(Number);
  if (!(rounds >= 1 && rounds <= 10) || !(duration >= 1 && duration <= maxDuration) || !(connections >= 1)) {
    console.error(`--rounds must be 1…10, --duration 1…${maxDuration} seconds, --connections ≥ 1`);
    process.exit(2);
  }
  const waitOthers = Number(values['wait-others']);
  return { values, rounds, duration, connections, port: Number(values.port), waitOthers };
}

/** Exits with 1 unless wrk is on PATH, saying that the runner `name` needs it. */
export function requireWrk(name) {
  if (!have('wrk')) {
    console.error(`${name} needs wrk (apt-get install wrk)`);
    process.exit(1);
  }
}

/**
 * A temporary folder for wrk's Lua scripts, removed when the runner exits (`name` in its name). Returns
 * write(text, file), which writes a script (as `file`, or under a name of its own) and returns its path.
 */
export function luaScripts(name) {
  const dir = mkdtempSync(join(tmpdir(), `weir-bench-${name}-`));
  cleanupOnExit(() => rmSync(dir, { recursive: true, force: true }));
  let count = 0;
  return (text, file = `s${++count}.lua`) => {
    const path = join(dir, file);
    writeFileSync(path, text);
    return path;
  };
}

/**
 * The waits of a run, before it and again before each variant (the other runs on this machine come and
 * go): wait() waits while another bench runner or a test run runs, `seconds` at most each time, then goes
 * ahead anyway. summary() says for the report how long it waited and beside what it went ahead.
 */
export function quietWaits(name, seconds) {
  let waited = 0;
  let times = 0;
  const ranBeside = [];
  return {
    async wait() {
      try {
        const s = await waitForQuiet({ name, seconds });
        // A wait with nothing to wait for still takes a few ms.
        if (s >= 1) {
          waited += s;
          times++;
        }
      } catch (err) {
        ranBeside.push(err.message);
      }
    },
    summary: () =>
      `${Math.round(waited)} s (${times} times) for another bench runner or test run to end${ranBeside.length === 0 ? '' : `, and went ahead beside one ${ranBeside.length} times (${ranBeside.join('; ')})`}.`,
  };
}

/**
 * Calls `measure(variant, round)` (round from 0) for every variant in each of `rounds` rounds, the
 * variants' order rotated by one from round to round; resolves to a Map of variant name → its results,
 * one per round.
 */
export async function rotatedRounds(rounds, variants, measure) {
  const results = new Map();
  for (let round = 0; round < rounds; round++)
    for (const variant of rotation(variants, round + 1))
      results.set(variant.name, [...(results.get(variant.name) ?? []), await measure(variant, round)]);
  return results;
}

/**
 * One wrk run (`args`, `seconds`) against the server process `pid`: wrk's figures, the server's CPU
 * (all threads) per request in µs, `cpuUs` (user and system time) and `userUs` (user time alone); with
 * `redis` (a runnerRedis()), redis-server's CPU (`redisCpuUs`) and Redis's commands (`redisCommands`) per
 * request; and in `shares` the CPU of the server, of wrk and of everything else on each core, in % of one
 * core (sampled from 0.5 s in, see measureWrk()): what else ran tells a slow variant from a starved one.
 */
export async function costOfRun(args, seconds, pid, redis) {
  const before = { server: userSysTicks(pid), redis: processTicks('redis-server') };
  const commands = redis ? await redis.commands() : undefined;
  const { text, cpu: shares } = await measureWrk(args, seconds, pid, {
    core1: () => statTicks('cpu1')?.busy,
  });
  const after = userSysTicks(pid);
  const redisCpu = processTicks('redis-server') - before.redis;
  const r = wrkFigures(text);
  const per = (n) => (r.requests > 0 ? n / r.requests : Number.NaN);
  const us = (ticks) => per((ticks / clockTicks()) * 1e6);
  return {
    ...r,
    cpuUs: us(after.user + after.sys - before.server.user - before.server.sys),
    userUs: us(after.user - before.server.user),
    redisCpuUs: redis && redisCpu > 0 ? us(redisCpu) : undefined,
    redisCommands: redis ? per((await redis.commands()) - commands) : undefined,
    shares: shares && {
      server: shares.server,
      wrk: shares.wrk,
      other0: shares.otherCore0,
      other1: shares.core1 === undefined ? undefined : Math.max(0, shares.core1 - (shares.wrk ?? 0)),
    },
  };
}
