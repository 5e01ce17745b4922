#!/usr/bin/env node
// Could Node's built-in node:sqlite replace better-sqlite3 (a native build at every install) behind
// weir's SQLite engine? Both drivers in one process, on the work weir gives them: point lookups by primary
// key on a 10,000-row table, and a transaction of 20 single-row updates (BEGIN IMMEDIATE … COMMIT), each
// driver on its own file in WAL mode with synchronous=NORMAL, as weir opens it. Statements are prepared
// once and run as weir runs them (`all()` for a read, `run()` for a write).
//
//   node bench/sqlite-drivers.mjs                       (Node >= 22.13; about a minute)
//   node bench/sqlite-drivers.mjs --rounds 9 --out /tmp/sqlite.md
//
// Rounds alternate which driver goes first, after one discarded warm-up round; the report gives each
// driver's median round and node:sqlite's rate over better-sqlite3's, round by round. better-sqlite3 is
// the one in node_modules, so on a Node line other than the machine's, run it from a checkout whose
// `npm ci` ran on that line (.ci/node-line's copy, say). See bench/README.md.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    lookups: { type: 'string', default: '200000' },
    transactions: { type: 'string', default: '5000' },
    out: { type: 'string' },
  },
});
const ROUNDS = Number(args.rounds);
const LOOKUPS = Number(args.lookups);
const TRANSACTIONS = Number(args.transactions);
const ROWS = 10_000;

const require = createRequire(import.meta.url);
let DatabaseSync;
try {
  ({ DatabaseSync } = await import('node:sqlite'));
} catch {
  console.error(`node:sqlite is not available on Node ${process.version} (it is from 22.13, 23.4 and 24)`);
  process.exit(1);
}
const BetterSqlite3 = require('better-sqlite3');

// One sequence of ids and values for both drivers, so they do identical work.
let seed = 42;
const random = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
  return seed;
};
const ids = Int32Array.from({ length: LOOKUPS }, () => (random() % ROWS) + 1);
const updates = Int32Array.from({ length: TRANSACTIONS * 20 * 2 }, () => (random() % ROWS) + 1);

const dir = mkdtempSync(join(tmpdir(), 'weir-sqlite-bench-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

/** Opens `file` the way weir's SQLite engine does, and seeds the table. */
function setUp(name, open) {
  const db = open(join(dir, `${name}.db`));
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON');
  db.exec('CREATE TABLE world (id INTEGER PRIMARY KEY, randomNumber INTEGER NOT NULL)');
  const insert = db.prepare('INSERT INTO world (id, randomNumber) VALUES (?, ?)');
  db.exec('BEGIN');
  for (let id = 1; id <= ROWS; id++) insert.run(id, (random() % ROWS) + 1);
  db.exec('COMMIT');
  const select = db.prepare('SELECT id, randomNumber FROM world WHERE id = ?');
  const update = db.prepare('UPDATE world SET randomNumber = ? WHERE id = ?');
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  const version = db.prepare('SELECT sqlite_version() AS v').all()[0].v;
  return {
    name,
    version,
    lookups() {
      let found = 0;
      for (let i = 0; i < ids.length; i++) found += select.all(ids[i]).length;
      if (found !== ids.length) throw new Error(`${name}: ${found} rows for ${ids.length} lookups`);
    },
    transactions() {
      let k = 0;
      for (let t = 0; t < TRANSACTIONS; t++) {
        begin.run();
        for (let u = 0; u < 20; u++, k += 2) update.run(updates[k], updates[k + 1]);
        commit.run();
      }
    },
    close: () => db.close(),
  };
}

const drivers = [
  setUp('better-sqlite3', (file) => new BetterSqlite3(file)),
  setUp('node:sqlite', (file) => new DatabaseSync(file)),
];

function time(fn) {
  const started = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

const loadBefore = loadavg()[0];
const rounds = [];
for (let round = 0; round <= ROUNDS; round++) {
  const order = round % 2 === 0 ? drivers : [...drivers].reverse();
  const result = {};
  for (const driver of order) {
    result[driver.name] = {
      lookupsPerSecond: LOOKUPS / time(driver.lookups),
      transactionsPerSecond: TRANSACTIONS / time(driver.transactions),
      first: driver === order[0],
    };
  }
  if (round > 0) rounds.push(result); // round 0 warms up the code and the page cache
}
for (const driver of drivers) driver.close();

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US');
const ratio = (r, key) => r['node:sqlite'][key] / r['better-sqlite3'][key];
const pkg = JSON.parse(readFileSync(require.resolve('better-sqlite3/package.json'), 'utf8'));

const lines = [
  '# SQLite drivers: better-sqlite3 vs node:sqlite',
  '',
  'Generated by `bench/sqlite-drivers.mjs`; do not edit by hand, re-run it.',
  '',
  `- Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, ${new Date().toISOString()}`,
  `- better-sqlite3 ${pkg.version} (SQLite ${drivers[0].version}); node:sqlite (SQLite ${drivers[1].version})`,
  `- command: \`node bench/sqlite-drivers.mjs --rounds ${ROUNDS} --lookups ${LOOKUPS} --transactions ${TRANSACTIONS}\``,
  `- load average (1 min) ${loadBefore.toFixed(2)} before, ${loadavg()[0].toFixed(2)} after: other processes share the cores, so read the round-by-round ratios, which compare runs seconds apart`,
  `- ${ROWS.toLocaleString('en-US')} rows; per round and driver: ${LOOKUPS.toLocaleString('en-US')} lookups, ${TRANSACTIONS.toLocaleString('en-US')} transactions of 20 updates; ${ROUNDS} rounds after a discarded warm-up, the first driver alternating`,
  '',
  '| driver | lookups/s (median round) | 20-update transactions/s (median round) |',
  '| --- | ---: | ---: |',
  ...drivers.map(
    (d) =>
      `| ${d.name} | ${fmt(median(rounds.map((r) => r[d.name].lookupsPerSecond)))} | ${fmt(median(rounds.map((r) => r[d.name].transactionsPerSecond)))} |`,
  ),
  '',
  'node:sqlite ÷ better-sqlite3, round by round (above 1: node:sqlite faster):',
  '',
  '| round | first | lookups | transactions |',
  '| ---: | --- | ---: | ---: |',
  ...rounds.map(
    (r, i) =>
      `| ${i + 1} | ${r['node:sqlite'].first ? 'node:sqlite' : 'better-sqlite3'} | ${ratio(r, 'lookupsPerSecond').toFixed(2)} | ${ratio(r, 'transactionsPerSecond').toFixed(2)} |`,
  ),
  `| median | | ${median(rounds.map((r) => ratio(r, 'lookupsPerSecond'))).toFixed(2)} | ${median(rounds.map((r) => ratio(r, 'transactionsPerSecond'))).toFixed(2)} |`,
  '',
];
const report = lines.join('\n');
if (args.out) writeFileSync(args.out, report);
console.log(report);
