// bench/db-drivers.mjs's report (RESULTS-db-drivers.md): per route and connection count the median run
// of each driver, its slices and every run, then the conclusion, the computed verdict and the caveats.

import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  BENCH_DIR,
  fmtInt,
  fmtMs,
  fmtPct,
  fmtRatio,
  fmtRatios,
  machineAndCommand,
  markdown,
  median,
  medianRound,
  pairedRatios,
} from '../lib.mjs';
import { DATABASE, fmtSlices, SERVERS, WORLD_ROWS, wrkArgs } from './servers.mjs';

const lastOverFirst = (r) => r.slices.at(-1).rps / r.slices[0].rps;

const PAIRS = [
  ['pg', 'postgresjs', 'pg ÷ postgres.js'],
  ['pg-clients', 'postgresjs', 'pg clients ÷ postgres.js'],
  ['pg-clients', 'pg', 'pg clients ÷ pg Pool'],
];

function phaseTable({ p, table, lines }, runs, phase, opts) {
  const ref = runs.postgresjs?.length ? medianRound(runs.postgresjs) : undefined;
  table(
    [
      ['server', ([s]) => SERVERS[s].label, '---'],
      ['req/s', ([, m]) => fmtInt(m.rps)],
      ['p50 ms', ([, m]) => fmtMs(m.p50)],
      ['p99 ms', ([, m]) => fmtMs(m.p99)],
      [`req/s per ${opts.slice} s slice`, ([, m]) => fmtSlices(m.slices), '---'],
      ['last ÷ first slice', ([, m]) => fmtRatio(lastOverFirst(m))],
      ['RSS at end', ([, m]) => `${fmtInt(m.whole.rssMiB)} MiB`],
      ['errors', ([, m]) => String(m.socketErrors + m.non2xx + m.whole.failed)],
      ['÷ postgres.js', ([, m]) => (ref ? fmtRatio(m.rps / ref.rps) : 'n/a')],
    ],
    opts.servers.filter((s) => runs[s]?.length).map((s) => [s, medianRound(runs[s])]),
  );
  p();
  const paired = PAIRS.map(([a, b, label]) => [label, pairedRatios(runs[a], runs[b])]).filter(
    ([, r]) => r.length,
  );
  if (paired.length > 0 && phase.connections === opts.connections)
    lines([
      `Per-round ratios of req/s: ${paired.map(([label, r]) => `${label} ${fmtRatios(r)}`).join('; ')}.`,
      '',
    ]);
}

function everyRun({ table, lines }, runs, opts) {
  lines(['<details><summary>every run</summary>', '']);
  const whole =
    (key) =>
    ([, r]) =>
      fmtPct(r.whole[key]);
  table(
    [
      ['server', ([s]) => SERVERS[s].label, '---'],
      ['round', ([, r]) => r.round],
      ['req/s', ([, r]) => fmtInt(r.rps)],
      ['p50 ms', ([, r]) => fmtMs(r.p50)],
      ['p99 ms', ([, r]) => fmtMs(r.p99)],
      ['slices', ([, r]) => fmtSlices(r.slices), '---'],
      ['RSS MiB', ([, r]) => r.slices.map((x) => fmtInt(x.rssMiB)).join(' · ')],
      ['server CPU', whole('serverCpu')],
      ['postgres CPU', whole('postgresCpu')],
      ['other on core 0', whole('otherCore0')],
      ['steal core 0', whole('stealCore0')],
      ['socket errors', ([, r]) => r.socketErrors],
      ['non-2xx', ([, r]) => r.non2xx],
      ['500s', ([, r]) => r.whole.failed],
    ],
    opts.servers.flatMap((s) => (runs[s] ?? []).map((r) => [s, r])),
  );
  lines(['', '</details>', '']);
}

/** A driver holds up when no run's last slice is 10 % or more below its first. */
function verdict(results, opts) {
  const lines = [];
  for (const { phase, title } of results.phaseList) {
    const runs = results.byPhase[phase];
    const pgToJs = pairedRatios(runs.pg, runs.postgresjs);
    if (pgToJs.length > 0) {
      const faster = pgToJs.every((r) => r > 1)
        ? 'pg is faster'
        : pgToJs.every((r) => r < 1)
          ? 'postgres.js is faster'
          : 'neither is clearly faster';
      lines.push(`${title}: ${faster} (pg ÷ postgres.js per round: ${fmtRatios(pgToJs)}).`);
    }
    const poolVsClients = pairedRatios(runs['pg-clients'], runs.pg);
    if (poolVsClients.length > 0)
      lines.push(`${title}: pg clients round-robin ÷ pg.Pool per round: ${fmtRatios(poolVsClients)}.`);
    for (const s of opts.servers) {
      const drops = (runs[s] ?? []).filter((r) => lastOverFirst(r) < 0.9);
      if (drops.length > 0)
        lines.push(
          `${title}: **${SERVERS[s].label} slowed down during the run** in ${drops.length} of ${runs[s].length} run(s) (last ÷ first slice ${drops.map((r) => lastOverFirst(r).toFixed(2)).join(', ')}).`,
        );
    }
  }
  return lines;
}

const medianRatio = (runs, a, b) => median(pairedRatios(runs[a], runs[b]));

/** Whether the installed postgres.js still has the Queue that grows under sustained load (see conclusion()). */
function postgresjsQueueGrows() {
  try {
    const source = readFileSync(join(BENCH_DIR, 'node_modules', 'postgres', 'src', 'queue.js'), 'utf8');
    return source.includes('xs.indexOf(x)') && source.includes('xs[index - 1] = undefined');
  } catch {
    return false;
  }
}

function conclusion(p, results, opts) {
  const main = results.phaseList.filter(
    ({ phase }) => results.phaseMeta[phase].connections === opts.connections,
  );
  const high = results.phaseList.filter(
    ({ phase }) => results.phaseMeta[phase].connections !== opts.connections,
  );
  const ratioText = (list, a, b) =>
    list
      .map(
        ({ phase, title }) =>
          `${title.replace(/, -c \d+$/, '')} ${fmtRatio(medianRatio(results.byPhase[phase], a, b))}`,
      )
      .join(', ');
  const perRound = main.flatMap(({ phase }) =>
    pairedRatios(results.byPhase[phase].pg, results.byPhase[phase].postgresjs),
  );
  if (perRound.length === 0) return;
  const driver = perRound.every((r) => r > 1)
    ? 'pg'
    : perRound.every((r) => r < 1)
      ? 'postgres.js'
      : undefined;
  const drops = [...main, ...high].flatMap(({ phase }) =>
    (results.byPhase[phase].postgresjs ?? []).map(lastOverFirst),
  );
  const degrades = drops.some((r) => r < 0.9);
  p('## Conclusion');
  p();
  p(
    `- **${driver ? `Use ${driver}` : 'No clear winner'}.** At -c ${opts.connections}, req/s of pg (Pool) ÷ postgres.js (median of per-round ratios): ${ratioText(main, 'pg', 'postgresjs')}; ${driver ? 'every round on the same side' : 'the rounds disagree'}.${degrades ? ` postgres.js also lost throughput while the load lasted (last ÷ first slice down to ${fmtRatio(Math.min(...drops))}), so a short run flatters it.` : ''}`,
  );
  if (high.length > 0) {
    const stalled = high.flatMap(({ phase }) =>
      opts.servers
        .flatMap((s) => (results.byPhase[phase][s] ?? []).map((r) => [s, r]))
        .filter(([, r]) => r.socketErrors > 0)
        .map(([s, r]) => `${SERVERS[s].label} ${fmtInt(r.socketErrors)} (${r.socketErrorText})`),
    );
    p(
      `- At -c ${opts.highConnections} on /queries (one run each), pg (Pool) ÷ postgres.js: ${ratioText(high, 'pg', 'postgresjs')}; the table's slices and p99 show how each copes with the long queue.${stalled.length > 0 ? ` wrk counted socket errors there: ${stalled.join('; ')}; a timeout is a request left without an answer for 2 s (wrk's default), so some requests starve even where p99 looks fine.` : ''}`,
    );
  }
  const pool = main.flatMap(({ phase }) =>
    pairedRatios(results.byPhase[phase]['pg-clients'], results.byPhase[phase].pg),
  );
  if (pool.length > 0) {
    const call = pool.every((r) => r >= 1.05)
      ? "round-robin clients were faster in every round: that is what pg.Pool's acquire/release costs. Still, they rely on pg.Client's own query queue, which pg 8.x deprecates (a DeprecationWarning on the first queued query) and pg 9 removes, and a slow query holds up everything queued behind it on its client, where the Pool gives the next query to whichever connection frees first."
      : pool.every((r) => r <= 0.95)
        ? 'the Pool was faster in every round: its acquire/release costs less than queueing on fixed clients.'
        : "no consistent difference (the rounds and routes disagree, or stay within ±5 %): pg.Pool's acquire/release does not cost anything that shows here. Keep the Pool; round-robin clients also rely on pg.Client's own query queue, which pg 8.x deprecates and pg 9 removes.";
    p(
      `- **pg.Pool vs round-robin clients** (clients ÷ Pool: ${ratioText(main, 'pg-clients', 'pg')}): ${call}`,
    );
  }
  if (degrades && postgresjsQueueGrows())
    p(
      "- **Why postgres.js slows down**: its internal `Queue` (`node_modules/postgres/src/queue.js`) leaves an `undefined` slot behind on every `shift()` and only resets its array once the queue is empty, while `remove()` is a linear `indexOf` over that array. Under sustained saturation the connections' `busy` queue is shifted and pushed once per query and never becomes empty, so the array grows by one slot per query and every query pays a scan of it. When this benchmark was written, a CPU profile of the postgres.js server on /queries put about half of its time in `remove`, and an instrumented copy of the queue reached ~200,000 slots (16 of them live) after 15 s. It recovers only when the load stops long enough for the queue to drain.",
    );
  p();
}

export function writeReport(summary, opts) {
  const { facts, results, rawDir } = summary;
  const md = markdown('bench:db-drivers');
  const { p, lines, write } = md;
  const allRuns = results.phaseList.flatMap(({ phase }) =>
    opts.servers.flatMap((s) => results.byPhase[phase][s] ?? []),
  );
  const pgCpu = allRuns.map((r) => r.whole.postgresCpu);
  const busy = allRuns.filter((r) => r.whole.stealCore0 >= 10);
  const crowded = results.phaseList.flatMap(({ phase, title }) =>
    opts.servers.flatMap((s) =>
      (results.byPhase[phase][s] ?? [])
        .filter((r) => r.whole.otherCore0 >= 20)
        .map((r) => `${SERVERS[s].label} on ${title}, round ${r.round} (${fmtPct(r.whole.otherCore0)})`),
    ),
  );
  const errors = allRuns.filter((r) => r.socketErrors || r.non2xx || r.whole.failed);
  const warnings = [
    ...new Set(
      allRuns.flatMap((r) =>
        r.log
          .split('\n')
          .filter((l) => /warning|error/i.test(l) && !/^\(Use/.test(l))
          .map((l) => l.replace(/^\(node:\d+\) /, '').trim()),
      ),
    ),
  ];

  lines([
    '# PostgreSQL drivers: pg vs postgres.js',
    '',
    'Generated by `bench/db-drivers.mjs`; do not edit by hand, re-run it. See `bench/README.md` for what is measured and how.',
    '',
  ]);
  machineAndCommand(p, summary, {
    weir: null,
    tools: [
      ['pg', `${facts.pg} (pg-pool ${facts.pgPool}, pg-protocol ${facts.pgProtocol}; pure JS, no pg-native)`],
      ['postgres (postgres.js)', facts.postgresjs],
      [
        'PostgreSQL',
        `${facts.postgres.version}, 127.0.0.1:5432, max_connections ${facts.postgres.maxConnections}, shared_buffers ${facts.postgres.sharedBuffers}`,
      ],
    ],
  });
  lines([
    'which ran, per server, route and round:',
    '',
    '```sh',
    `PORT=${opts.port} DB_NAME=${DATABASE} DB_POOL=${opts.pool} taskset -c 0 node servers/<node-pg|node-pg-clients|node-postgresjs>.mjs   # in bench/`,
    opts.warmup > 0 &&
      `${wrkArgs(opts, '/<route>', opts.connections, opts.warmup).join(' ')}   # warm-up, discarded`,
    `${wrkArgs(opts, '/<route>', opts.connections, opts.duration).join(' ')}   # measured`,
    '```',
    '',
    '## Method',
    '',
    `- Three raw \`node:http\` servers sharing one HTTP layer ([servers/db-http.mjs](servers/db-http.mjs)): only the driver differs. \`GET /db\`: one random row, \`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = $1\`, as a JSON object. \`GET /queries?queries=20\`: 20 random rows fetched concurrently (\`Promise.all\`), as a JSON array (N clamped to 1..500, unparsable → 1). ${opts.pool} database connections per server.`,
    "  - **pg (Pool)**: `pg.Pool({ max })`, `pool.query({ name: 'world', text, values })` (a named prepared statement).",
    "  - **pg (16 Clients, round-robin)**: the same statement on plain `pg.Client`s, each query sent to the next client in turn (a client queues queries and runs them one at a time): what `pg.Pool`'s acquire/release costs.",
    '  - **postgres.js**: `postgres({ max, prepare: true })`, the tagged template `sql`...``.',
    `- Database \`${DATABASE}\`, dropped and recreated at the start: \`world(id integer primary key, randomnumber integer not null)\`, ${fmtInt(WORLD_ROWS)} rows, randomnumber random in 1..${fmtInt(WORLD_ROWS)}, analysed.`,
    `- Each run: a fresh server process pinned to **core 0**; its answers checked against the table (20 × /db, and /queries with N = 20, 1, 0, foo, none, 501: shape, row count, every row's value, JSON type, \`Server\`/\`Date\`/\`Content-Length\`); a **${opts.warmup} s warm-up** (discarded); a **${opts.duration} s measured run** with wrk (**one thread, ${opts.connections} connections, pinned to core 1**); the answers checked again; the server stopped by PID. During the measured run the runner reads the server's completed-request counter (\`/stats\`), its RSS, its CPU and all PostgreSQL processes' CPU every ${opts.slice} s: the per-slice req/s show whether a driver slows down over a sustained run.`,
    `- **${opts.rounds} round(s)**; within a round each route runs the servers back to back in an order rotated every round, so noise on the machine falls on all of them alike. Reported per route: the **median run** by req/s (for two rounds the lower one), its p50/p99 from wrk's \`--latency\`, its slices and its RSS at the end; ratios divide req/s. The per-round ratios (servers that ran minutes apart) are the fairer comparison.${opts.highConnections > 0 ? ` Then once more /queries per server at **-c ${opts.highConnections}** (${opts.highConnections} × 20 = ${fmtInt(opts.highConnections * 20)} queries in flight on ${opts.pool} connections) to see how each behaves with a long queue.` : ''}`,
    '',
  ]);
  for (const { phase, title } of results.phaseList) {
    lines([`## ${title}`, '']);
    phaseTable(md, results.byPhase[phase], results.phaseMeta[phase], opts);
    everyRun(md, results.byPhase[phase], opts);
  }
  conclusion(p, results, opts);
  lines([
    '## Verdict (computed)',
    '',
    ...verdict(results, opts).map((line) => `- ${line}`),
    '',
    '## Caveats',
    '',
    `- **PostgreSQL is not pinned**: its backends ran on both cores, next to the server (core 0) and wrk (core 1), and used ${fmtPct(Math.min(...pgCpu))}–${fmtPct(Math.max(...pgCpu))} of a core per run (the "postgres CPU" column). On ${facts.nproc} cores the database, the server and wrk compete, so the absolute numbers are far below a real deployment, and CPU that PostgreSQL does not use is left to the server and wrk.`,
    '- Loopback, one Node process per server, no cluster mode. The table fits in shared_buffers, so this measures the driver and the protocol, not the disk.',
    busy.length > 0
      ? `- The hypervisor took 10 % or more of core 0 in ${busy.length} run(s); see the steal column.`
      : '- No run lost 10 % or more of core 0 to the hypervisor (steal).',
    crowded.length > 0 &&
      `- Other processes took 20 % or more of core 0 from the server in ${crowded.length} run(s): ${crowded.join('; ')}. This counts PostgreSQL's own backends when the scheduler put them on core 0, as well as anything else running on the machine; those runs understate that server.`,
    errors.length > 0
      ? `- **Errors** in ${errors.length} run(s): see the socket errors / non-2xx / 500s columns.`
      : '- No socket errors, non-2xx responses or failed queries in any measured run; every server answered correctly before and after each run.',
    warnings.length > 0 && `- Server output: ${warnings.map((w) => `\`${w}\``).join('; ')}.`,
    '',
    `Raw wrk outputs and slices: \`${relative(BENCH_DIR, rawDir)}/\` (gitignored).`,
    '',
  ]);
  write(opts.out);
}
