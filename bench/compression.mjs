#!/usr/bin/env node
// Response compression: what it costs and what it saves.
//  1. The hot path: /plaintext and /json (13 and 27 bytes, below the threshold) with no Accept-Encoding,
//     on this tree and on the commit before compression (`--base`, unpacked with `git archive` into a
//     temporary folder): compression must cost them nothing.
//  2. A 10 KiB text and a 10 KiB JSON response (serialised per request), the client sending
//     Accept-Encoding: br, gzip or none: req/s, the server's CPU µs per request, and bytes per response.
// The server (bench/servers/weir-compression.mjs, on src/ through tsx for both trees) is pinned to core 0,
// wrk (one thread, 64 keep-alive connections) to core 1; the CPU is read from /proc/<pid>/stat. Each round
// runs every variant, the order rotated round by round, --duration s each after a 2 s warm-up.
// Every process is stopped by PID; traffic goes to 127.0.0.1 only; each wrk run is bounded in time.
//
//   node bench/compression.mjs --rounds 4 --duration 5 --out bench/RESULTS-compression.md

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HOST, ROOT } from './lib/common.mjs';
import { pinning } from './lib/cpu.mjs';
import { machineFacts } from './lib/machine.mjs';
import { cleanupOnExit, get, send, startServer, stopServer } from './lib/processes.mjs';
import { costOfRun, requireWrk, rotatedRounds } from './lib/route-cost.mjs';
import { medianOf } from './lib/stats.mjs';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '4' },
    duration: { type: 'string', default: '5' },
    port: { type: 'string', default: '18191' },
    base: { type: 'string', default: 'HEAD' },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`node bench/compression.mjs [--rounds N] [--duration S] [--base REF] [--out FILE]
  --rounds N     rounds, each variant once per round, the order rotated (4)
  --duration S   seconds of each measured wrk run (5)
  --base REF     the commit to compare the hot path with: the one before compression (HEAD's history is
                 searched for it when REF is HEAD)
  --port N       the server's port on 127.0.0.1 (18191)
  --out FILE     also write the Markdown report to FILE`);
  process.exit(0);
}
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const port = Number(values.port);
if (!(rounds >= 1 && rounds <= 10) || !(duration >= 1 && duration <= 60)) {
  console.error('--rounds must be 1…10 and --duration 1…60 seconds');
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
execFileSync('sh', ['-c', `git archive ${base} src | tar -x -C ${baseTree}`], { cwd: ROOT });
symlinkSync(join(ROOT, 'node_modules'), join(baseTree, 'node_modules'));

const server = (name, tree, env = {}) => ({ name, tree, env });
const head = server('this tree', ROOT);
const before = server(`before (${base.slice(0, 7)})`, baseTree);

async function start(variant) {
  const s = await startServer({
    name: `weir ${variant.name}`,
    argv: [
      ...pin.server,
      process.execPath,
      '--import',
      'tsx',
      join(ROOT, 'bench/servers/weir-compression.mjs'),
    ],
    env: { PORT: String(port), WEIR_SRC: variant.tree, ...variant.env },
    port,
    probe: async () => {
      if ((await get(port, '/plaintext')).status !== 200) throw new Error('not yet');
    },
    cwd: ROOT,
  });
  if (pin.pinned) execFileSync('taskset', ['-a', '-cp', '0', String(s.child.pid)], { stdio: 'ignore' });
  return s;
}

const wrk = (path, seconds, encoding) => [
  ...pin.wrk,
  'wrk',
  '-t1',
  '-c64',
  `-d${seconds}s`,
  '--latency',
  ...(encoding === 'none' ? [] : ['-H', `Accept-Encoding: ${encoding}`]),
  `http://${HOST}:${port}${path}`,
];

async function measure(s, path, encoding) {
  await costOfRun(wrk(path, 2, encoding), 2, s.child.pid);
  return costOfRun(wrk(path, duration, encoding), duration, s.child.pid);
}

cleanupOnExit();

// 1. The hot path, before and after.
const HOT = ['/plaintext', '/json'];
const hot = await rotatedRounds(rounds, [before, head], async (variant, round) => {
  const s = await start(variant);
  try {
    const out = {};
    for (const path of HOT) {
      out[path] = await measure(s, path, 'none');
      console.log(
        `round ${round + 1} ${variant.name} ${path}: ${Math.round(out[path].rps)} req/s, ${out[path].cpuUs.toFixed(1)} µs CPU/request`,
      );
    }
    return out;
  } finally {
    await stopServer(s);
  }
});

// 2. 10 KiB responses by Accept-Encoding, on this tree.
const BIG = ['/text-10k', '/json-10k'];
const ENCODINGS = ['none', 'gzip', 'br'];
const variants = ENCODINGS.map((encoding) => ({ name: encoding, encoding }));
const sizes = {};
const big = await rotatedRounds(rounds, variants, async (variant, round) => {
  const s = await start(head);
  try {
    const out = {};
    for (const path of BIG) {
      const headers = variant.encoding === 'none' ? {} : { 'accept-encoding': variant.encoding };
      const res = await send(port, path, { headers });
      sizes[`${path}|${variant.encoding}`] = Number(res.headers['content-length']);
      out[path] = await measure(s, path, variant.encoding);
      console.log(
        `round ${round + 1} ${path} Accept-Encoding ${variant.encoding}: ${Math.round(out[path].rps)} req/s, ${out[path].cpuUs.toFixed(1)} µs CPU/request`,
      );
    }
    return out;
  } finally {
    await stopServer(s);
  }
});

const med = (runs, path, key) => medianOf(runs.map((r) => r[path][key]));
const ratio = (a, b) => (a / b).toFixed(2);
const report = [];
report.push('# Response compression', '');
report.push(
  `\`node bench/compression.mjs --rounds ${rounds} --duration ${duration}\` — ${new Date().toISOString().slice(0, 10)}. ` +
    'Server pinned to core 0, wrk (1 thread, 64 connections, keep-alive) to core 1; CPU from /proc/<pid>/stat. ' +
    `Medians of ${rounds} rounds, the order of the variants rotated each round, ${duration} s runs after a 2 s warm-up.`,
  '',
);
report.push(`Machine: ${JSON.stringify(machineFacts())}`, '');
report.push('## The hot path: small responses, no Accept-Encoding', '');
report.push(
  `This tree against ${before.name}, the commit before compression. Both run src/ through tsx.`,
  '',
  '| route | req/s before | req/s after | ratio | CPU µs/req before | after | ratio | per round (after ÷ before, CPU) |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
);
const hb = hot.get(before.name);
const ha = hot.get(head.name);
for (const path of HOT) {
  const perRound = ha.map((r, i) => (r[path].cpuUs / hb[i][path].cpuUs).toFixed(2)).join(', ');
  report.push(
    `| ${path} | ${Math.round(med(hb, path, 'rps'))} | ${Math.round(med(ha, path, 'rps'))} | ${ratio(med(ha, path, 'rps'), med(hb, path, 'rps'))} | ${med(hb, path, 'cpuUs').toFixed(1)} | ${med(ha, path, 'cpuUs').toFixed(1)} | ${ratio(med(ha, path, 'cpuUs'), med(hb, path, 'cpuUs'))} | ${perRound} |`,
  );
}
report.push('', '## 10 KiB responses by Accept-Encoding', '');
report.push(
  '| route | Accept-Encoding | bytes sent | req/s | ÷ none | CPU µs/req | ÷ none |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
);
for (const path of BIG) {
  const none = big.get('none');
  for (const encoding of ENCODINGS) {
    const runs = big.get(encoding);
    report.push(
      `| ${path} | ${encoding} | ${sizes[`${path}|${encoding}`]} | ${Math.round(med(runs, path, 'rps'))} | ${ratio(med(runs, path, 'rps'), med(none, path, 'rps'))} | ${med(runs, path, 'cpuUs').toFixed(1)} | ${ratio(med(runs, path, 'cpuUs'), med(none, path, 'cpuUs'))} |`,
    );
  }
}
report.push('');
const text = report.join('\n');
console.log(`\n${text}`);
if (values.out) writeFileSync(values.out, `${text}\n`);
