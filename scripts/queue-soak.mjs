#!/usr/bin/env node
// Soak of the job queues' durability tests under CPU load (not part of `npm test`):
//
//   node scripts/queue-soak.mjs [--runs 20] [--load 2] [--run-timeout 300] [--files nats,amqp]
//                               [--pattern 'crash test|connection is cut']
//
// Starts --load busy-loop processes (one per core to load), then runs the durability tests of the
// broker queues (test/queue/<file>.test.ts, the cases matching --pattern: the SIGKILL crash test and the
// two connection-cut tests) --runs times in a row, each run killed past --run-timeout seconds. The
// busy loops end by themselves after the longest the soak can take, and are killed by PID when it
// ends. Prints one line per run and a tally; exits 1 if any run failed. Needs the services running
// (WEIR_REQUIRE_SERVICES=1 is set, so a missing broker fails the run instead of skipping it).
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    load: { type: 'string', default: '2' },
    'run-timeout': { type: 'string', default: '300' },
    files: { type: 'string', default: 'nats,amqp' },
    pattern: { type: 'string', default: 'crash test|connection is cut' },
  },
});
const runs = Number(values.runs);
const loaders = Number(values.load);
const runTimeoutMs = Number(values['run-timeout']) * 1000;
for (const [name, n, max] of [
  ['--runs', runs, 1000],
  ['--load', loaders, 64],
  ['--run-timeout', runTimeoutMs / 1000, 3600],
]) {
  if (!Number.isInteger(n) || n < 0 || n > max) {
    console.error(`${name} must be an integer from 0 to ${max}`);
    process.exit(2);
  }
}
const root = new URL('..', import.meta.url).pathname;
const files = values.files.split(',').map((f) => `test/queue/${f.trim()}.test.ts`);

// Each busy loop stops by itself after the longest the soak may take, should this script die first.
const loadSeconds = Math.ceil((runs * runTimeoutMs) / 1000) + 60;
const busy = Array.from({ length: loaders }, () =>
  spawn(
    process.execPath,
    ['-e', `const end = Date.now() + ${loadSeconds * 1000}; while (Date.now() < end);`],
    {
      stdio: 'ignore',
    },
  ),
);
const stopLoad = () => {
  for (const child of busy) if (child.exitCode === null) child.kill('SIGKILL');
};
process.on('SIGINT', () => {
  stopLoad();
  process.exit(130);
});

/** Runs the tests once; resolves with the outcome, the run's time and the failing tests' names. */
function runOnce() {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [
        '--conditions=weir-source',
        '--import',
        'tsx',
        '--test',
        '--test-reporter=tap',
        `--test-name-pattern=${values.pattern}`,
        ...files,
      ],
      {
        cwd: root,
        env: { ...process.env, WEIR_REQUIRE_SERVICES: '1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
    });
    child.stderr.on('data', (c) => {
      out += c;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, runTimeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const passed = [...out.matchAll(/^\s*ok \d+ - (.+?)(?: #.*)?$/gm)]
        .map((m) => m[1])
        .filter((name) => new RegExp(values.pattern).test(name));
      const failed = [...out.matchAll(/^\s*not ok \d+ - (.+?)(?: #.*)?$/gm)]
        .map((m) => m[1])
        .filter((name) => new RegExp(values.pattern).test(name));
      const ok = code === 0 && !timedOut && failed.length === 0 && passed.length > 0;
      resolve({ ok, code, timedOut, passed, failed, ms: performance.now() - started, out });
    });
  });
}

const results = [];
try {
  for (let i = 1; i <= runs; i++) {
    const r = await runOnce();
    results.push(r);
    const why = r.timedOut ? ' (timed out)' : r.failed.length > 0 ? `: ${r.failed.join('; ')}` : '';
    console.log(
      `run ${String(i).padStart(2)}: ${r.ok ? 'pass' : 'FAIL'} in ${(r.ms / 1000).toFixed(1)} s, ${r.passed.length} cases passed${why}`,
    );
    if (!r.ok) {
      const detail = r.out
        .split('\n')
        .filter((l) => /not ok|Error|assert|expected|actual|of 1000|of 300|confirmed/.test(l))
        .slice(0, 20);
      console.log(detail.map((l) => `    ${l}`).join('\n'));
    }
  }
} finally {
  stopLoad();
}
const times = results.map((r) => r.ms / 1000).sort((a, b) => a - b);
const failedRuns = results.filter((r) => !r.ok).length;
console.log(
  `${results.length - failedRuns} of ${results.length} runs passed under ${loaders} busy loop(s); ` +
    `run time min ${times[0]?.toFixed(1)} s, median ${times[Math.floor(times.length / 2)]?.toFixed(1)} s, ` +
    `max ${times.at(-1)?.toFixed(1)} s`,
);
process.exit(failedRuns === 0 ? 0 : 1);
