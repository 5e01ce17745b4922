#!/usr/bin/env node
// Response compression: what it costs and what it saves.
//  1. The hot path: /plaintext and /json (13 and 27 bytes, below the threshold) with no Accept-Encoding,
//     on this tree and on the commit before compression (`--base`, unpacked with `git archive` into a
//     temporary folder): compression must cost them nothing.
//  2. A 10 KiB text and a 10 KiB JSON response (serialised per request), the client sending
//     Accept-Encoding: br, gzip or none: req/s, the server's CPU µs per request, and bytes per response.
//  3. Each brotli quality and gzip level on the same two bodies, in process: bytes and µs per call.
// The servers (bench/servers/weir-compression.mjs, on src/ through tsx for both trees) are pinned to core
// 0, wrk (one thread, 64 keep-alive connections) to core 1; the CPU is read from /proc/<pid>/stat. Part 1
// keeps both trees' servers up and alternates them A B B A; part 2 keeps one server up and rotates the
// encodings round by round; every run lasts --duration s after a 2 s warm-up.
// Every process is stopped by PID; traffic goes to 127.0.0.1 only; each wrk run is bounded in time.
//
//   node bench/compression.mjs --hot-rounds 10 --rounds 4 --duration 5 --out bench/RESULTS-compression.md

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { HOST, ROOT } from './lib/common.mjs';
import { ROWS, TEXT_10K } from './lib/compression-bodies.mjs';
import { pinning } from './lib/cpu.mjs';
import { machineFacts } from './lib/machine.mjs';
import { cleanupOnExit, get, send, startServer, stopServer } from './lib/processes.mjs';
import { costOfRun, requireWrk } from './lib/route-cost.mjs';
import { medianOf } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    'hot-rounds': { type: 'string', default: '8' },
    only: { type: 'string' },
    duration: { type: 'string', default: '5' },
    port: { type: 'string', default: '18191' },
    base: { type: 'string', default: 'HEAD' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`node bench/compression.mjs [--rounds N] [--duration S] [--base REF] [--out FILE]
  --rounds N     rounds of the 10 KiB part, each variant once per round, the order rotated (4)
  --hot-rounds N rounds of the hot-path part, A B B A (8)
  --only PART    run only 'hot', 'big' or 'levels'
  --duration S   seconds of each measured wrk run (5)
  --base REF     the commit to compare the hot path with: the one before compression (HEAD's history is
                 searched for it when REF is HEAD)
  --port N       the server's port on 127.0.0.1 (18191)
  --out FILE     also write the Markdown report to FILE`);
  process.exit(0);
}
const rounds = Number(values.rounds);
const hotRounds = Number(values['hot-rounds']);
const duration = Number(values.duration);
const port = Number(values.port);
if (
  !(rounds >= 1 && rounds <= 10) ||
  !(hotRounds >= 1 && hotRounds <= 40) ||
  !(duration >= 1 && duration <= 60)
) {
  console.error('--rounds must be 1…10, --hot-rounds 1…40 and --duration 1…60 seconds');
  process.exit(2);
}
requireWrk('compression.mjs');
const pin = pinning();

// The commit before compression: the parent of the first commit that added src/http/compression.
const git = (...args) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
const base =
  values.base === 'HEAD'
    ? git(
        'rev-parse',
        `${git('log', '--format=%H', '--reverse', '--', 'src/http/compression').split('\n')[0]}^`,
      )
    : git('rev-parse', values.base);
const baseTree = mkdtempSync(join(tmpdir(), 'weir-bench-compression-base-'));
cleanupOnExit(() => rmSync(baseTree, { recursive: true, force: true }));
// With its package.json and tsconfig.json: tsx then compiles both trees the same way (as ESM, for ES2022).
execFileSync('sh', ['-c', `git archive ${base} src package.json tsconfig.json | tar -x -C ${baseTree}`], {
  cwd: ROOT,
});
symlinkSync(join(ROOT, 'node_modules'), join(baseTree, 'node_modules'));

const server = (name, tree, env = {}) => ({ name, tree, env });
const head = server('this tree', ROOT);
const before = server(`before (${base.slice(0, 7)})`, baseTree);

async function start(variant, on = port) {
  const s = await startServer({
    name: `weir ${variant.name}`,
    argv: [
      ...pin.server,
      process.execPath,
      '--import',
      'tsx',
      join(ROOT, 'bench/servers/weir-compression.mjs'),
    ],
    env: { PORT: String(on), WEIR_SRC: variant.tree, ...variant.env },
    port: on,
    probe: async () => {
      if ((await get(on, '/plaintext')).status !== 200) throw new Error('not yet');
    },
    cwd: ROOT,
  });
  if (pin.pinned) execFileSync('taskset', ['-a', '-cp', '0', String(s.child.pid)], { stdio: 'ignore' });
  s.port = on;
  return s;
}

const wrk = (path, seconds, encoding, on) => [
  ...pin.wrk,
  'wrk',
  '-t1',
  '-c64',
  `-d${seconds}s`,
  '--latency',
  ...(encoding === 'none' ? [] : ['-H', `Accept-Encoding: ${encoding}`]),
  `http://${HOST}:${on}${path}`,
];

async function measure(s, path, encoding) {
  await costOfRun(wrk(path, 2, encoding, s.port), 2, s.child.pid);
  return costOfRun(wrk(path, duration, encoding, s.port), duration, s.child.pid);
}

const HOT = ['/plaintext', '/json'];
const BIG = ['/text-10k', '/json-10k'];
const ENCODINGS = ['none', 'gzip', 'br'];
const med = (values) => medianOf(values);
const report = [];
report.push('# Response compression', '');
report.push(
  `\`node bench/compression.mjs ${process.argv.slice(2).join(' ')}\` — ${new Date().toISOString().slice(0, 10)}. ` +
    'Servers pinned to core 0, wrk (1 thread, 64 connections, keep-alive) to core 1; CPU from /proc/<pid>/stat. ' +
    `${duration} s runs, each after a 2 s warm-up. On this 2-core machine ` +
    'req/s swings by ±30 % between runs: read the CPU µs per request, and the ratios of runs taken seconds apart.',
  '',
);
report.push(`Machine: ${JSON.stringify(machineFacts())}`, '');

// 1. The hot path, before and after: both trees in one server process (bench/servers/weir-compression-
// pair.mjs), on two ports, their runs alternating A B B A: each pair of runs is seconds apart, and the two
// share the process's heap, JIT, core and the machine's mood, so what differs is their code.
async function runHot() {
  const pair = await startServer({
    name: 'weir pair',
    argv: [
      ...pin.server,
      process.execPath,
      '--import',
      'tsx',
      join(ROOT, 'bench/servers/weir-compression-pair.mjs'),
    ],
    env: { PORT: String(port + 1), WEIR_SRC_A: before.tree, WEIR_SRC_B: head.tree },
    port: port + 2,
    probe: async () => {
      if ((await get(port + 2, '/plaintext')).status !== 200) throw new Error('not yet');
    },
    cwd: ROOT,
  });
  if (pin.pinned) execFileSync('taskset', ['-a', '-cp', '0', String(pair.child.pid)], { stdio: 'ignore' });
  const servers = new Map([
    [before.name, { child: pair.child, port: port + 1 }],
    [head.name, { child: pair.child, port: port + 2 }],
  ]);
  const runs = new Map([
    [before.name, []],
    [head.name, []],
  ]);
  try {
    for (let round = 0; round < hotRounds; round++) {
      const order = round % 2 === 0 ? [before, head] : [head, before];
      for (const variant of order) {
        const out = {};
        for (const path of HOT) {
          out[path] = await measure(servers.get(variant.name), path, 'none');
          console.log(
            `hot round ${round + 1} ${variant.name} ${path}: ${Math.round(out[path].rps)} req/s, ${out[path].cpuUs.toFixed(1)} µs CPU/request`,
          );
        }
        runs.get(variant.name)[round] = out;
      }
    }
  } finally {
    await stopServer(pair);
  }
  const b = runs.get(before.name);
  const a = runs.get(head.name);
  report.push('## The hot path: small responses, no Accept-Encoding', '');
  report.push(
    `This tree against ${before.name}, the commit before compression, both running src/ through tsx in one ` +
      `process on two ports; ${hotRounds} rounds, the order A B then B A. The ratios are medians of the ${hotRounds} per-round ` +
      'ratios (after ÷ before, runs seconds apart).',
    '',
    '| route | req/s before | req/s after | ratio | CPU µs/req before | after | ratio | CPU ratio per round |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const path of HOT) {
    const cpu = a.map((r, i) => r[path].cpuUs / b[i][path].cpuUs);
    const rps = a.map((r, i) => r[path].rps / b[i][path].rps);
    report.push(
      `| ${path} | ${Math.round(med(b.map((r) => r[path].rps)))} | ${Math.round(med(a.map((r) => r[path].rps)))} | ${med(rps).toFixed(2)} | ${med(b.map((r) => r[path].cpuUs)).toFixed(1)} | ${med(a.map((r) => r[path].cpuUs)).toFixed(1)} | ${med(cpu).toFixed(2)} | ${cpu.map((x) => x.toFixed(2)).join(', ')} |`,
    );
  }
  report.push('');
}

// 2. 10 KiB responses by Accept-Encoding, on this tree: one server, the encodings rotated round by round.
async function runBig() {
  const s = await start(head);
  const runs = new Map(ENCODINGS.map((e) => [e, []]));
  const sizes = {};
  try {
    for (const encoding of ENCODINGS) {
      for (const path of BIG) {
        const headers = encoding === 'none' ? {} : { 'accept-encoding': encoding };
        const res = await send(port, path, { headers });
        sizes[`${path}|${encoding}`] = Number(res.headers['content-length']);
      }
    }
    for (let round = 0; round < rounds; round++) {
      const order = ENCODINGS.map((_, i) => ENCODINGS[(i + round) % ENCODINGS.length]);
      for (const encoding of order) {
        const out = {};
        for (const path of BIG) {
          out[path] = await measure(s, path, encoding);
          console.log(
            `round ${round + 1} ${path} Accept-Encoding ${encoding}: ${Math.round(out[path].rps)} req/s, ${out[path].cpuUs.toFixed(1)} µs CPU/request`,
          );
        }
        runs.get(encoding)[round] = out;
      }
    }
  } finally {
    await stopServer(s);
  }
  report.push('## 10 KiB responses by Accept-Encoding', '');
  report.push(
    `This tree, default settings (brotli quality 3, gzip level 6). ${rounds} rounds, the order of the encodings ` +
      'rotated each round; the ratios are medians of per-round ratios to `none`. The JSON is serialised per request.',
    '',
    '| route | Accept-Encoding | bytes sent | req/s | ÷ none | CPU µs/req | ÷ none |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  );
  const none = runs.get('none');
  for (const path of BIG) {
    for (const encoding of ENCODINGS) {
      const r = runs.get(encoding);
      const rps = r.map((x, i) => x[path].rps / none[i][path].rps);
      const cpu = r.map((x, i) => x[path].cpuUs / none[i][path].cpuUs);
      report.push(
        `| ${path} | ${encoding} | ${sizes[`${path}|${encoding}`]} | ${Math.round(med(r.map((x) => x[path].rps)))} | ${med(rps).toFixed(2)} | ${med(r.map((x) => x[path].cpuUs)).toFixed(1)} | ${med(cpu).toFixed(2)} |`,
      );
    }
  }
  report.push('');
}

// 3. The levels, in this process: what each brotli quality and gzip level costs one 10 KiB body, by the
// same synchronous call weir makes for bodies up to 64 KiB (and the thread-pool call it makes above).
function runLevels() {
  const bodies = [
    ['text', Buffer.from(TEXT_10K)],
    ['json', Buffer.from(JSON.stringify({ rows: ROWS }))],
  ];
  const settings = [
    ...[1, 2, 3, 4, 5, 6, 11].map((q) => [
      `brotli ${q}`,
      (b) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: q } }),
    ]),
    ...[1, 4, 6, 9].map((l) => [`gzip ${l}`, (b) => gzipSync(b, { level: l })]),
  ];
  // Batches interleaved across the settings, and the fastest batch kept: on a shared machine the other
  // processes only ever add time, so the minimum is the closest to the cost itself.
  const best = new Map();
  for (let batch = 0; batch < 9; batch++) {
    for (const [name, compress] of settings) {
      for (const [body, bytes] of bodies) {
        const n = name === 'brotli 11' ? 5 : 100;
        if (batch === 0) for (let i = 0; i < 10; i++) compress(bytes);
        const t = process.hrtime.bigint();
        for (let i = 0; i < n; i++) compress(bytes);
        const us = Number(process.hrtime.bigint() - t) / 1e3 / n;
        const key = `${name}|${body}`;
        best.set(key, Math.min(best.get(key) ?? Number.POSITIVE_INFINITY, us));
      }
    }
  }
  report.push('## Brotli qualities and gzip levels on the same bodies', '');
  report.push(
    'One synchronous call per body, as weir makes it for bodies up to 64 KiB, in the runner: the fastest of 9 ' +
      'batches interleaved across the settings. How the defaults were chosen.',
    '',
    '| setting | text bytes | text µs | json bytes | json µs |',
    '| --- | ---: | ---: | ---: | ---: |',
  );
  for (const [name, compress] of settings) {
    const cells = bodies.map(
      ([body, bytes]) => `${compress(bytes).length} | ${best.get(`${name}|${body}`).toFixed(0)}`,
    );
    report.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  report.push('');
}

cleanupOnExit();
if (values.only === undefined || values.only === 'hot') await runHot();
if (values.only === undefined || values.only === 'big') await runBig();
if (values.only === undefined || values.only === 'levels') runLevels();
const text = report.join('\n');
console.log(`\n${text}`);
if (values.out) writeFileSync(values.out, `${text}\n`);
