// The overload benchmark's report: every run's figures (wrk's connections and the two probers), the
// ratios of the largest load to the smallest per server, and weir's target check.

import { relative } from 'node:path';
import { BENCH_DIR, fmtInt, fmtMs, fmtPct, fmtRatio } from '../lib/common.mjs';
import { machineAndCommand, markdown, roundsOrder } from '../lib/report.mjs';
import { medianOf } from '../lib/stats.mjs';

/** The servers, in report order: key → name. */
export const SERVERS = {
  weir: 'weir (limit on)',
  'weir-off': 'weir (OVERLOAD=off)',
  'weir-workers': 'weir (2 workers)',
  fastify: 'fastify',
  'fastify-up': 'fastify + under-pressure',
  node: 'node:http',
};

/** Target: goodput at the largest load ≥ GOODPUT × at the smallest; each p99 ≤ P99 × at the smallest. */
const GOODPUT = 0.9;
const P99 = 5;

/** The median over rounds of `pick(run)` for server `key` at `connections` (undefined values left out). */
function median(results, key, connections, pick) {
  const values = results
    .filter((r) => r.server === key && r.connections === connections)
    .map(pick)
    .filter((v) => v !== undefined && Number.isFinite(v));
  return values.length === 0 ? undefined : medianOf(values);
}

/** Server `key`'s ratios of the largest load (`hi`) to the smallest (`lo`), medians over rounds. */
function ratios(results, key, lo, hi) {
  const ratio = (pick) => {
    const [a, b] = [median(results, key, lo, pick), median(results, key, hi, pick)];
    return a === undefined || b === undefined || a === 0 ? undefined : b / a;
  };
  return {
    goodput: ratio((r) => r.wrk.goodput),
    wrk: ratio((r) => r.wrk.p99),
    fresh: ratio((r) => r.fresh.p99),
    keepAlive: ratio((r) => r.keepAlive.p99),
  };
}

/** Writes the report of `summary` (see finishRun()) to its --out. */
export function writeReport(summary) {
  const { opts, results, facts, order } = summary;
  const { p, table, lines, write } = markdown('bench:overload');
  const loads = [...new Set(results.map((r) => r.connections))].sort((a, b) => a - b);
  const [lo, hi] = [loads[0], loads.at(-1)];
  const keys = Object.keys(SERVERS).filter((k) => results.some((r) => r.server === k));
  const runs = [...results].sort(
    (a, b) =>
      a.connections - b.connections || keys.indexOf(a.server) - keys.indexOf(b.server) || a.round - b.round,
  );
  p(`# Overload: GET /overload at ${loads.map(fmtInt).join(' and ')} connections`);
  p();
  const scheduling = process.env.WEIR_SCHEDULING || 'rr';
  p('Each server is one process pinned to core 0 (weir (2 workers): a primary and two workers, all three on');
  p(
    scheduling === 'rr'
      ? 'core 0; the primary accepts connections and hands them out in turn); GET /overload waits 1 ms (a timer),'
      : `core 0; WEIR_SCHEDULING=${scheduling}: the workers take connections from the kernel); GET /overload waits 1 ms (a timer),`,
  );
  p('then burns 0.2 ms of CPU, then answers `{"message":"Hello, World!"}`: one core serves a few thousand a');
  p('second. wrk');
  p(
    `(core 1, one thread per connection, ${opts.duration} s a run) records latency per status; beside it two`,
  );
  p(
    `probers send ${opts.rate} requests a second each: one on a new connection per request, one on a kept-alive`,
  );
  p(`connection opened before the load. Time-out ${opts.timeout} s for every request.`);
  p();
  machineAndCommand(p, summary, {
    tools: [
      ['fastify', facts.fastify],
      ['@fastify/under-pressure', facts.underPressure],
      ['libuv', facts.libuv],
      ['net.core.somaxconn', facts.somaxconn],
      ['net.ipv4.tcp_max_syn_backlog', facts.synBacklog],
      ['net.ipv4.tcp_syncookies', facts.syncookies],
      ['open files (soft limit)', facts.fdLimit],
    ],
    weir: 'the reference service started as `npm start` starts it (`node scripts/start.mjs`), one process',
    more: [
      [
        'pinning',
        summary.pin.pinned ? 'servers on core 0; wrk and the probers on core 1' : 'none (one core)',
      ],
      ['order', roundsOrder(order, (k) => SERVERS[k])],
      ['waited for other runs', `${Math.round(summary.waitedSeconds ?? 0)} s`],
      ['raw outputs', `${relative(BENCH_DIR, summary.rawDir)}/`],
    ],
  });

  p('## wrk: the load');
  p();
  table(
    [
      ['connections', (r) => fmtInt(r.connections)],
      ['server', (r) => SERVERS[r.server], '---'],
      opts.rounds > 1 && ['round', (r) => r.round],
      ['goodput 2xx/s', (r) => fmtInt(r.wrk.goodput)],
      ['2xx p50 ms', (r) => fmtMs(r.wrk.p50)],
      ['2xx p99 ms', (r) => fmtMs(r.wrk.p99)],
      ['2xx max ms', (r) => fmtMs(r.wrk.max)],
      ['503', (r) => fmtInt(r.wrk.s503)],
      ['other non-2xx', (r) => fmtInt(r.wrk.otherStatus)],
      ['socket errors', (r) => fmtInt(r.wrk.socketErrors)],
      ['time-outs', (r) => fmtInt(r.wrk.timeouts)],
      ['never answered', (r) => fmtInt(r.wrk.neverAnswered)],
      ['unanswered at the close, longest wait ms', (r) => fmtMs(r.wrk.longestWaitMs)],
      ['accept queue max', (r) => fmtInt(r.acceptQueueMax)],
      ['ListenOverflows', (r) => fmtInt(r.listenOverflows)],
      ['server CPU', (r) => fmtPct(r.cpu?.server)],
      ['others on core 0', (r) => fmtPct(r.cpu?.otherCore0)],
      ['wrk CPU', (r) => fmtPct(r.cpu?.wrk)],
    ],
    runs,
  );
  p();
  p('## The probers: a new connection per request, and one kept-alive connection');
  p();
  const probers = runs.flatMap((r) => [
    { ...r, prober: 'new connection', f: r.fresh },
    { ...r, prober: 'kept-alive', f: r.keepAlive },
  ]);
  table(
    [
      ['connections', (r) => fmtInt(r.connections)],
      ['server', (r) => SERVERS[r.server], '---'],
      opts.rounds > 1 && ['round', (r) => r.round],
      ['prober', (r) => r.prober, '---'],
      ['sent', (r) => r.f.sent],
      ['answered in the load', (r) => r.f.answeredDuringLoad],
      ['answered after', (r) => r.f.answered - r.f.answeredDuringLoad],
      ['2xx', (r) => r.f.ok],
      ['503', (r) => r.f.s503],
      ['other status', (r) => r.f.otherStatus],
      ['time-outs', (r) => r.f.timeouts],
      ['errors', (r) => r.f.errors],
      ['2xx p50 ms', (r) => fmtMs(r.f.p50)],
      ['2xx p99 ms', (r) => fmtMs(r.f.p99)],
      ['2xx max ms', (r) => fmtMs(r.f.max)],
    ],
    probers,
  );
  p();
  if (lo !== hi) targetSection(p, table, lines, { results, keys, lo, hi, rounds: opts.rounds });
  notes(p, lines, { results, opts });
  write(opts.out);
}

function targetSection(p, table, lines, { results, keys, lo, hi, rounds }) {
  p(`## ${fmtInt(hi)} against ${fmtInt(lo)} connections`);
  p();
  p(
    `Each figure at ${fmtInt(hi)} connections over the same at ${fmtInt(lo)}${rounds > 1 ? ' (medians over the rounds)' : ''}:`,
  );
  p(`goodput (target for weir: ≥ ${GOODPUT}×) and the p99 of 2xx answers (target: ≤ ${P99}×).`);
  p();
  const rows = keys.map((key) => ({ key, ...ratios(results, key, lo, hi) }));
  table(
    [
      ['server', (r) => SERVERS[r.key], '---'],
      ['goodput', (r) => fmtRatio(r.goodput)],
      ['wrk p99', (r) => fmtRatio(r.wrk)],
      ['new-connection prober p99', (r) => fmtRatio(r.fresh)],
      ['kept-alive prober p99', (r) => fmtRatio(r.keepAlive)],
    ],
    rows,
  );
  p();
  const checked = rows.filter((r) => r.key === 'weir' || r.key === 'weir-workers');
  if (checked.length === 0) {
    p('weir (limit on) was not among the servers: no target check.');
    p();
    return;
  }
  for (const weir of checked) {
    const misses = [
      !(weir.goodput >= GOODPUT) && `goodput ${fmtRatio(weir.goodput)} (< ${GOODPUT}×)`,
      !(weir.wrk <= P99) && `wrk p99 ${fmtRatio(weir.wrk)}`,
      !(weir.fresh <= P99) && `new-connection prober p99 ${fmtRatio(weir.fresh)}`,
      !(weir.keepAlive <= P99) && `kept-alive prober p99 ${fmtRatio(weir.keepAlive)}`,
    ].filter(Boolean);
    const na = [weir.goodput, weir.wrk, weir.fresh, weir.keepAlive].some((v) => v === undefined);
    const name = SERVERS[weir.key];
    p(
      misses.length === 0
        ? `**Target: met** by ${name}.`
        : `**Target: missed** by ${name}: ${misses.join('; ')}${na ? ' (n/a: no 2xx answer to compare)' : ''}.`,
    );
    p();
  }
  p(
    `Fairness at ${fmtInt(hi)} connections (the issue's other demand: no connection waits while others are served, and a new client is answered as fast as an established one):`,
  );
  p();
  lines(
    results
      .filter((r) => (r.server === 'weir' || r.server === 'weir-workers') && r.connections === hi)
      .map(
        (r) =>
          `- ${SERVERS[r.server]}, round ${r.round}: ${fmtInt(r.wrk.neverAnswered)} of wrk's ${fmtInt(hi)} connections never answered; the new-connection prober had ${r.fresh.answeredDuringLoad} of ${r.fresh.sent} requests answered while the load ran (p99 ${fmtMs(r.fresh.p99)} ms), the kept-alive one ${r.keepAlive.answeredDuringLoad} of ${r.keepAlive.sent} (p99 ${fmtMs(r.keepAlive.p99)} ms).`,
      ),
  );
  p();
}

function notes(p, lines, { results, opts }) {
  const ramp = Math.max(...results.map((r) => r.rampSeconds));
  const starved = results.filter((r) => (r.cpu?.otherCore0 ?? 0) >= 10);
  p('## Notes');
  p();
  lines([
    starved.length > 0
      ? `- **Other processes took core 0 from the server** (10 % of it or more) in: ${starved.map((r) => `${SERVERS[r.server]} at ${fmtInt(r.connections)} round ${r.round} (${fmtPct(r.cpu.otherCore0)})`).join('; ')}. Those rows measure a starved server; run again on a quieter machine.`
      : '- No run lost 10 % or more of core 0 to other processes.',
    "- **wrk runs one thread per connection** (`-tN -cN`): weir bench's Lua script times each request between wrk's `request()` and `response()` callbacks, which only pair up with one connection per thread. wrk starts its threads one after another, each opening its connection as it starts," +
      ` which took up to ${ramp.toFixed(1)} s here; the measured window (${opts.duration} s) opens once all run, and only responses completed inside it count (a wrapper of the script, \`overload/load.mjs\`). The threads cost wrk CPU (its column), on its own core.`,
    "- **never answered**: connections of wrk that got no answer at all before the window closed; **unanswered at the close, longest wait**: the longest any request had been waiting, without an answer, when the window closed. wrk's percentiles leave such requests out (and count a request answered after more than the time-out only in **time-outs**), so these say what the percentiles cannot. Socket errors and time-outs are wrk's counts over its whole run.",
    "- **accept queue max**: the most connections the kernel had completed and the server had not yet accepted (sampled every 250 ms in the window, `rx_queue` of the listening socket in /proc/net/tcp; the limit is the listen backlog, 511 for node:http's default). **ListenOverflows**: handshakes the kernel dropped in the window because that queue was full (TcpExt in /proc/net/netstat, machine-wide, so another program's connections could count too). A dropped client retries after 1, 3, 7, 15 s...",
    '- **answered in the load**: answered before the window closed; a request answered later waited for the load to end. CPU is over the window too.',
    `- The probers run on core 1 beside wrk, at ${opts.rate} requests a second each: their own latency adds a few ms at most.`,
    "- **fastify + under-pressure** (`servers/overload-fastify.mjs --under-pressure`): `maxEventLoopDelay: 50` ms, nothing else. under-pressure compares the mean event-loop delay of each 1 s sample with it; in a trial with this route that mean stayed at 5–12 ms at 64 connections and rose to 10–140 ms (mostly 40–80) at 2,000, so 50 ms separates them. The README's example value, 1000 ms, is never reached by this route (that row would be fastify again). `maxEventLoopUtilization` is left off: by default it is the utilisation since start-up, and per interval a saturated but healthy server is near 1.0 already at 64 connections.",
    '- **weir (OVERLOAD=off)**: the service with its adaptive limit turned off. A build of weir without the limit ignores `OVERLOAD`, and then both weir rows measure the same server.',
    `- ${opts.rounds > 1 ? `${opts.rounds} rounds, each server once a round` : 'One round'}: the machine is shared, so a single run's numbers move with what else runs; compare ratios more than absolute figures.`,
  ]);
  p();
}
