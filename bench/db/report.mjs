// bench/db.mjs's report (RESULTS-db.md): the summary (req/s and peak RSS per server, the comparisons as the
// median of per-round ratios with a bootstrap interval, the targets, the pipelining experiment, the query
// paths), the machine and command, the method, a section per route with every round, and the caveats.

import { relative } from 'node:path';
import {
  BENCH_DIR,
  bootstrapMedian,
  commandsRun,
  fmtInt,
  fmtMs,
  fmtPct,
  fmtRatio,
  fmtRatios,
  HOST,
  machineAndCommand,
  markdown,
  maxCpu,
  medianOf,
  medianRound,
  otherCpu,
  pairedRatios,
  roundsOrder,
  runsTable,
  SERVICE_BUILD,
  wrkCaveats,
} from '../lib.mjs';
import {
  COMPARISONS,
  COST_TARGET,
  PATHS,
  pathOfServer,
  RSS_TARGET,
  routesOfServer,
  SERVERS,
} from './servers.mjs';

/** Resamples of the bootstrap intervals; each comparison is seeded by its name, so reruns agree. */
export const RESAMPLES = 2000;

/** The request path of a route, with N = `queries`. */
export const pathOfRoute = (route, queries) =>
  route === 'queries' || route === 'updates' ? `/${route}?queries=${queries}` : `/${route}`;

const fmtMb = (mb) => (mb === undefined || !Number.isFinite(mb) ? 'n/a' : mb.toFixed(1));

/** `1.02× [0.97–1.06]`, or the ratio alone from a single round, or `–` without any. */
function fmtInterval(i) {
  if (i.n === 0) return '–';
  if (i.n === 1) return `${fmtRatio(i.median)} (1 round)`;
  return `${fmtRatio(i.median)} [${i.low.toFixed(2)}–${i.high.toFixed(2)}]`;
}

/** The report's reading of the run in `summary` (see writeReport()): the numbers each part needs. */
function readings(summary) {
  const { opts, facts, results } = summary;
  const L = (s) => SERVERS[s].label;
  const routesOf = (s) => routesOfServer(s, opts.routes);
  const ran = (route, s) => (results[route]?.[s]?.length ?? 0) > 0;
  const med = (route, s) => medianRound(results[route][s]);
  const perRound = (route, a, b) =>
    ran(route, a) && ran(route, b) ? pairedRatios(results[route][a], results[route][b]) : [];
  const interval = (route, a, b) =>
    bootstrapMedian(perRound(route, a, b), { resamples: RESAMPLES, seed: `db ${route} ${a} ${b}` });
  // The peak RSS of a server per round: VmHWM after its last measured run of the round.
  const rssRounds = (s) => {
    const byRound = new Map();
    for (const route of routesOf(s))
      for (const r of results[route]?.[s] ?? [])
        if (r.peakRssMb !== undefined) byRound.set(r.round, Math.max(byRound.get(r.round) ?? 0, r.peakRssMb));
    return [...byRound].map(([round, mb]) => ({ round, mb }));
  };
  const rss = (s) => {
    const mbs = rssRounds(s).map((r) => r.mb);
    return mbs.length > 0 ? medianOf(mbs) : undefined;
  };
  const rssInterval = (a, b) =>
    bootstrapMedian(pairedRatios(rssRounds(a), rssRounds(b), 'mb'), {
      resamples: RESAMPLES,
      seed: `db rss ${a} ${b}`,
    });
  const path = (s) => pathOfServer(s, facts);
  // A target comparison holds only between servers on the same path (not so in runs from before the peers
  // took weir's).
  const comparisons = COMPARISONS.filter(([a, b]) => opts.routes.some((r) => ran(r, a) && ran(r, b))).map(
    ([a, b, what, role]) =>
      role === 'target' && path(a) !== path(b)
        ? [a, b, 'on another query path: no target']
        : [a, b, what, role],
  );
  const pathOf = (route) => pathOfRoute(route, opts.queries);
  return {
    L,
    routesOf,
    ran,
    med,
    perRound,
    interval,
    rssRounds,
    rss,
    rssInterval,
    comparisons,
    path,
    pathOf,
  };
}

/** How an interval of weir ÷ a peer stands against the cost target (≥ COST_TARGET at its lower end). */
function costVerdict(i) {
  if (i.n === 0) return 'not measured';
  if (i.n === 1) return `${fmtRatio(i.median)} from 1 round: no interval, no verdict`;
  if (i.low >= COST_TARGET) return `met (${fmtInterval(i)})`;
  if (i.high < COST_TARGET) return `**missed** (${fmtInterval(i)})`;
  return `**not shown**: the interval reaches below ${COST_TARGET.toFixed(2)}× (${fmtInterval(i)})`;
}

/** How weir's peak RSS stands against RSS_TARGET × node:http's (≤ at the interval's upper end). */
function rssVerdict(i) {
  if (i.n === 0) return 'not measured';
  if (i.n === 1) return `${fmtRatio(i.median)} from 1 round: no interval, no verdict`;
  if (i.high <= RSS_TARGET) return `met (${fmtInterval(i)})`;
  if (i.low > RSS_TARGET) return `**missed** (${fmtInterval(i)})`;
  return `**not shown**: the interval reaches above ${RSS_TARGET.toFixed(2)}× (${fmtInterval(i)})`;
}

function summarySection({ p, table, lines }, summary, r) {
  const { opts } = summary;
  const { L, ran, med, interval, rss, rssInterval, comparisons, path, pathOf } = r;
  lines([
    '## Summary',
    '',
    `req/s of the median round per server (${opts.rounds} round(s), ${opts.duration} s measured each, wrk -c ${opts.connections}), and each server's peak RSS (VmHWM, the median over the rounds of its reading at the end of its last measured run). The query path says which driver calls each query makes (see "Query paths" below).`,
    '',
  ]);
  table(
    [
      ['server', (s) => L(s), '---'],
      ['query path', (s) => PATHS[path(s)].label, '---'],
      ...opts.routes.map((route) => [
        `\`${pathOf(route)}\``,
        (s) => (ran(route, s) ? fmtInt(med(route, s).rps) : '–'),
      ]),
      ['peak RSS MB', (s) => fmtMb(rss(s))],
    ],
    opts.servers,
  );
  p();
  if (comparisons.length > 0) {
    lines([
      `Ratios of req/s: the median of the per-round ratios (each round's servers ran minutes apart at most) and in brackets its 95 % bootstrap interval (the rounds resampled ${fmtInt(RESAMPLES)} times, seeded, so a rerender gives the same interval).`,
      '',
    ]);
    table(
      [
        ['a ÷ b', ([a, b]) => `${L(a)} ÷ ${L(b)}`, '---'],
        ['what it shows', ([, , what]) => what, '---'],
        ...opts.routes.map((route) => [
          `\`${pathOf(route)}\``,
          ([a, b]) => fmtInterval(interval(route, a, b)),
        ]),
      ],
      comparisons,
    );
    p();
  }
  const targets = comparisons.filter(([, , , role]) => role === 'target');
  if (targets.length > 0) {
    lines([
      `**Target: framework cost ≤ 5 % on the same path**, i.e. weir ÷ a peer that makes the same driver calls ≥ ${COST_TARGET.toFixed(2)}× at the lower end of the interval:`,
      '',
      ...targets.flatMap(([a, b]) =>
        opts.routes.map(
          (route) => `- ${L(a)} ÷ ${L(b)}, \`${pathOf(route)}\`: ${costVerdict(interval(route, a, b))}`,
        ),
      ),
      '',
    ]);
  }
  const rssSubjects = ['weir', 'weir-start'].filter((s) => opts.servers.includes(s) && rss(s) !== undefined);
  if (opts.servers.includes('node') && rss('node') !== undefined && rssSubjects.length > 0) {
    lines([
      `**Target: peak RSS ≤ ${RSS_TARGET.toFixed(2)} × node:http's** (node:http ${fmtMb(rss('node'))} MB), per-round ratios as above, at the upper end of the interval:`,
      '',
      ...rssSubjects.map((s) => `- ${L(s)}, ${fmtMb(rss(s))} MB: ${rssVerdict(rssInterval(s, 'node'))}`),
      '',
    ]);
  }
  const experiment = comparisons.filter(([, , , role]) => role === 'experiment');
  if (experiment.length > 0 && opts.routes.includes('queries')) {
    const nodeVs = interval('queries', 'node', 'node-pipelined');
    const answer =
      nodeVs.n < 2
        ? 'too few rounds to say'
        : nodeVs.high < 1
          ? `**yes**: node:http pipelined on one connection is ahead of node:http on the pg path by ${fmtPct((1 / nodeVs.median - 1) * 100)} (node:http ÷ it ${fmtInterval(nodeVs)})`
          : nodeVs.low > 1
            ? `**no**: node:http on the pg path is ahead of it by ${fmtPct((nodeVs.median - 1) * 100)} (${fmtInterval(nodeVs)})`
            : `**no clear difference**: node:http ÷ it ${fmtInterval(nodeVs)}`;
    lines([
      `**Experiment: does pipelining win on \`${pathOf('queries')}\`?** ${answer}. weir ÷ it: ${fmtInterval(interval('queries', 'weir', 'node-pipelined'))}. See "Experiment: pipelined queries" below.`,
      '',
    ]);
  }
  lines(['### Query paths', '']);
  const paths = [...new Set(opts.servers.map(path))];
  table(
    [
      ['query path', (k) => PATHS[k].label, '---'],
      [
        'servers',
        (k) =>
          opts.servers
            .filter((s) => path(s) === k)
            .map(L)
            .join(', '),
        '---',
      ],
      ['driver calls per query', (k) => PATHS[k].calls, '---'],
    ],
    paths,
  );
  p();
}

function methodSection({ p, table, lines }, summary, r) {
  const { opts, facts, order, pin } = summary;
  const { L, path } = r;
  lines(['## Method', '']);
  table(
    [
      ['server', (s) => L(s), '---'],
      ['what it is', (s) => SERVERS[s].what, '---'],
      ['query path', (s) => PATHS[path(s)].label, '---'],
    ],
    opts.servers,
  );
  p();
  lines([
    `- Every PostgreSQL server runs the same SQL and logic as the reference service's \`techempower.ts\`: named prepared statements, the N reads of /queries and /updates concurrent (weir: \`gather()\`, the others: \`Promise.all\`), one \`UPDATE … FROM (SELECT unnest($1::int[]), unnest($2::int[]))\` per /updates with sorted ids, an id drawn twice given one new number; fortunes sorted and escaped per request. fastify and node:http share [servers/tfb.mjs](servers/tfb.mjs), whose \`DB_PATH\` picks their driver calls.`,
    `- The database \`${opts.database}\` is dropped, recreated and migrated by the weir service before the run (10,000 world rows, 12 fortunes). Before each server starts, \`VACUUM ANALYZE world\` clears the dead rows the previous server's /updates left.`,
    `- Each server is **one Node process** ${pin.pinned ? 'pinned to **core 0**' : '(unpinned)'}; the load generator is **wrk, one thread, ${opts.connections} connections**, ${pin.pinned ? 'pinned to **core 1**' : 'unpinned'}; **PostgreSQL is not pinned** and its backends run on both cores.`,
    `- Per server: start it, **check its answers** (status, content type, \`Server\`/\`Date\`/\`Content-Length\`; JSON shape and row count for /queries and /updates, with N = ${opts.queries}, 1, 0, foo, empty, 501 and none; on PostgreSQL the rows returned by /db and /queries match the table, the rows /updates returns are in the table afterwards, and an id answered twice carries one number; the fortunes page byte for byte identical across servers), then per route a **${opts.warmup} s warm-up** (discarded) and a **${opts.duration} s measured run**; then stop it (SIGTERM by PID). A fresh process per server and round.`,
    `- **${opts.rounds} round(s)**, the server order rotated every round (${roundsOrder(order, L)}). Reported: the median round by req/s with its p50/p99 (wrk \`--latency\`), CPU from /proc over the measured run (the server process, all PostgreSQL processes, the whole machine of ${facts.nproc * 100} %), and the server's **peak RSS**: VmHWM from /proc/<pid>/status read at the end of each measured run (the most memory the process has held since it started, so the reading after its last route is its peak for the round).`,
    `- **Ratios** between two servers are taken round by round (the same round's runs are minutes apart, which cancels slow drift of the machine); the report gives their median and a 95 % percentile bootstrap interval: the rounds resampled with replacement ${fmtInt(RESAMPLES)} times, the median of each resample, the 2.5th and 97.5th percentiles of those medians; the generator is seeded by the comparison's name, so the same results give the same interval.`,
    '',
  ]);
}

function routeSection({ p, table, lines }, summary, r, route) {
  const { opts } = summary;
  const { L, ran, med, perRound, comparisons, pathOf } = r;
  const servers = opts.servers.filter((s) => ran(route, s));
  const errors = ({ socketErrors: e, non2xx: n }) => (e || n ? `${e} socket, ${n} non-2xx` : '0');
  const ratioCols = [
    ['fastify', 'fastify'],
    ['node', 'node:http'],
  ].filter(([s]) => ran(route, s));
  lines([`## \`${pathOf(route)}\``, '']);
  table(
    [
      ['server', (s) => L(s), '---'],
      ['req/s', (s) => fmtInt(med(route, s).rps)],
      ['p50 ms', (s) => fmtMs(med(route, s).p50)],
      ['p99 ms', (s) => fmtMs(med(route, s).p99)],
      ['server CPU', (s) => fmtPct(med(route, s).cpu?.server)],
      ['PostgreSQL CPU', (s) => fmtPct(med(route, s).cpu?.postgres)],
      ['machine CPU', (s) => fmtPct(med(route, s).cpu?.machine)],
      ['peak RSS MB', (s) => fmtMb(med(route, s).peakRssMb)],
      ['errors', (s) => errors(med(route, s))],
      ...ratioCols.map(([o, l]) => [`÷ ${l}`, (s) => fmtRatio(med(route, s).rps / med(route, o).rps)]),
    ],
    servers,
  );
  p();
  const here = comparisons.filter(([a, b]) => ran(route, a) && ran(route, b));
  if (here.length > 0)
    lines([
      `Per-round ratios of req/s: ${here.map(([a, b]) => `${L(a)} ÷ ${L(b)} ${fmtRatios(perRound(route, a, b))}`).join('; ')}. The ÷ columns above are ratios of the median rounds; peak RSS is the median round's reading at the end of this route's measured run.`,
      '',
    ]);
  lines(['<details><summary>every round</summary>', '']);
  const other = (c) => otherCpu(c, ['postgres']);
  runsTable(
    table,
    { lead: ['server'], processes: [['PostgreSQL CPU', 'postgres']], other },
    servers.flatMap((s) => summary.results[route][s].map((x) => [[L(s)], x])),
  );
  lines(['', '</details>', '']);
}

function experimentSection({ p, table, lines }, summary, r) {
  const { L, ran, med, interval, pathOf } = r;
  if (!ran('queries', 'node-pipelined')) return;
  const servers = ['weir', 'node', 'node-pipelined'].filter((s) => ran('queries', s));
  lines([
    '## Experiment: pipelined queries',
    '',
    `Does sending a request's ${summary.opts.queries} SELECTs pipelined on one connection beat spreading them over the pool one at a time per connection? node:http pipelined is raw node:http with postgres.js: per request it reserves one connection and writes every query at once; node:http (the pg path) and weir send each query on a pooled connection of its own and wait for its answer before that connection takes the next. Not a change to weir: a number for the question. postgres.js is also another driver (its own protocol and row parsing), so the difference is not pipelining alone.`,
    '',
  ]);
  table(
    [
      ['server', (s) => L(s), '---'],
      ['req/s', (s) => fmtInt(med('queries', s).rps)],
      ['p50 ms', (s) => fmtMs(med('queries', s).p50)],
      ['p99 ms', (s) => fmtMs(med('queries', s).p99)],
      ['server CPU', (s) => fmtPct(med('queries', s).cpu?.server)],
      ['PostgreSQL CPU', (s) => fmtPct(med('queries', s).cpu?.postgres)],
      ['peak RSS MB', (s) => fmtMb(med('queries', s).peakRssMb)],
      ['÷ node:http pipelined', (s) => fmtInterval(interval('queries', s, 'node-pipelined'))],
    ],
    servers,
  );
  p();
  lines([
    `The last column is the median of per-round ratios with its 95 % bootstrap interval, as in the summary; route \`${pathOf('queries')}\`.`,
    '',
  ]);
}

function caveats({ p, lines }, summary, r) {
  const { opts, facts, rawDir } = summary;
  const { L, routesOf, pathOf } = r;
  const compiled = facts.weir === 'compiled';
  const other = (c) => otherCpu(c, ['postgres']);
  const runs = opts.routes.flatMap((route) =>
    opts.servers
      .filter((s) => routesOf(s).includes(route))
      .flatMap((s) => (summary.results[route][s] ?? []).map((x) => [`${L(s)} ${pathOf(route)}`, x])),
  );
  const all = runs.map(([, x]) => x);
  const disturbed = runs
    .filter(([, x]) => (other(x.cpu) ?? 0) >= 15 || (x.cpu?.postgres ?? 0) < 0)
    .map(
      ([what, x]) =>
        `${what} round ${x.round} (other ${fmtPct(other(x.cpu))}, PostgreSQL ${fmtPct(x.cpu.postgres)})`,
    );
  const has = (s) => opts.servers.includes(s);
  lines([
    '## Caveats',
    '',
    `- **PostgreSQL shares the ${facts.nproc} cores with the server and wrk.** The server has core 0 and wrk core 1 to themselves only as far as taskset goes: PostgreSQL's backends run wherever the kernel puts them, so a server that makes PostgreSQL work harder (or is itself busier) takes CPU from everyone. The whole machine was up to ${fmtPct(maxCpu(all, 'machine'))} of ${facts.nproc * 100} % busy, PostgreSQL up to ${fmtPct(maxCpu(all, 'postgres'))} of one core: with the database on the same two cores, a faster server also leaves PostgreSQL less CPU, which flattens the differences between servers. These numbers rank the stacks on this box; they are not TechEmpower's, which run the database on its own machine.`,
    compiled
      ? "- weir is the whole reference service (every route of examples/service registered, not only these four, and whatever it opens at start besides the database: a memory cache, the job queue on a SQLite file, its worker), compiled and run with plain `node`; the peers have the four routes only (weir-app shows what the rest of the service costs). On the same driver calls weir also does its own work per query: a tagged template turned once per call site into a named statement, the pool demand counted against `maxWaiting`, `one()` checking it got exactly one row, a failed query translated into weir's typed errors; /queries and /updates fan out with `gather()`; the handlers return values that weir serialises. That is the framework cost under test."
      : "- weir is the whole reference service, run from source through tsx's loader; fastify and node:http are .mjs files with the four routes only.",
    facts.peerPath === undefined &&
      "- **This run predates the peers on weir's path**: fastify and node:http queried through `pool.query({ name, text, values })`, as their query path says.",
    has('weir-start') &&
      `- weir npm start is \`node scripts/start.mjs\` with the repo root as its working directory and the same environment as the other servers (PORT, HOST=${HOST}, NODE_ENV=production, DATABASE_URL): start.mjs checks that dist/ is newer than src/ and that examples/service's build in .build/service/<hash>/ (${facts.startMain ?? 'n/a'}) is current, then imports it in the same process. The runner made that build once before the rounds, so every measured start reuses it, as a user's restarts do; its job queue is the default \`sqlite:./data/queue.db\` under the repo root.`,
    has('weir-cancel') &&
      "- weir-cancel pays for cancellation being possible, not for any cancel: wrk waits for every answer, so no request is abandoned and no CancelRequest is sent. Its costs are an AbortController per request (`ctx.signal` read), gather's linked controller, and an abort listener added and removed around every query.",
    has('node-pipelined') &&
      '- node:http pipelined is an experiment, not a peer: another driver, and a request holds one of the 16 connections for all of its queries, so at most 16 requests are in flight at the database at once, each with up to N queries queued on its connection. It answers /db and /queries only and runs /queries only.',
    '- fastify sends `application/json; charset=utf-8` (its default, as in servers/fastify.mjs); the others send `application/json`. The `Date` header is a once-a-second cached string everywhere.',
    '- /updates writes to the same 10,000 rows from up to 64 requests at once; sorted ids keep concurrent updates from deadlocking. Dead rows accumulate during a run (VACUUM runs between servers), so /updates drifts a little within a run; rotation spreads that evenly.',
    `- The bootstrap interval is coarse with few rounds (this run: ${opts.rounds}): with 5 it spans about the 2nd lowest to the 2nd highest per-round ratio, and one round gives none; more rounds narrow it.`,
    disturbed.length > 0 &&
      `- **Other load**: in ${disturbed.length} measured run(s) something besides the server, wrk and PostgreSQL took 15 % of a core or more, or other PostgreSQL clients came and went (a negative PostgreSQL figure): ${disturbed.join('; ')}. The median round keeps a single disturbed round out of the tables; the per-round ratios show it.`,
  ]);
  wrkCaveats(p, runs);
  lines([
    '',
    `Raw wrk outputs (warm-ups included) are in \`${relative(BENCH_DIR, rawDir)}/\` (gitignored).`,
    '',
  ]);
}

/** Writes the report of the run in `summary` (see finishRun()) to summary.opts.out. */
export function writeReport(summary) {
  const { opts, facts, pin } = summary;
  const compiled = facts.weir === 'compiled';
  const r = readings(summary);
  const md = markdown('bench:db');
  md.lines([
    '# weir database benchmark results (TechEmpower database tests)',
    '',
    'Generated by `bench/db.mjs`; do not edit by hand, re-run it. See `bench/README.md`.',
    '',
  ]);
  summarySection(md, summary, r);
  machineAndCommand(md.p, summary, {
    tools: [
      ['fastify', facts.fastify],
      [
        'pg (node-postgres)',
        `${facts.pg} (bench/node_modules, for fastify and node:http); ${facts.pgRoot} (root node_modules, for weir)`,
      ],
      [
        'postgres (postgres.js)',
        `${facts.postgresjs ?? 'n/a'} (bench/node_modules, for node:http pipelined)`,
      ],
      ['PostgreSQL', `${facts.postgres} on 127.0.0.1:5432, not pinned (shares both cores)`],
      ['better-sqlite3', facts.sqlite],
    ],
    weir: compiled
      ? SERVICE_BUILD
      : 'the reference service from source: `node --conditions=weir-source --import tsx examples/service/main.ts`',
  });
  commandsRun(
    md.p,
    pin,
    opts,
    `node <server>   # PORT=${opts.port} HOST=${HOST} NODE_ENV=production DATABASE_URL=… DB_POOL=${opts.pool} (+ DB_PATH, WEIR_DB_CANCEL as the method says)`,
  );
  methodSection(md, summary, r);
  for (const route of opts.routes) routeSection(md, summary, r, route);
  experimentSection(md, summary, r);
  caveats(md, summary, r);
  md.write(opts.out);
}
