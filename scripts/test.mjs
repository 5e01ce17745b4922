#!/usr/bin/env node
// `npm test`: type-check everything, then run every test/**/*.test.ts with Node's own runner.
// Arguments narrow the run: `npm test -- test/http/router.test.ts` or `npm test -- router`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

function find(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return find(path);
    return entry.name.endsWith('.test.ts') ? [relative(root, path)] : [];
  });
}

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const runnerFlags = process.argv.slice(2).filter((a) => a.startsWith('-'));
const files = find(join(root, 'test'))
  .sort()
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)));
if (files.length === 0) {
  console.error(`no test file matches ${filters.join(' ')}`);
  process.exit(1);
}

if (process.env.WEIR_SKIP_TYPECHECK !== '1') {
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '--noEmit'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) {
    console.error('type check failed');
    process.exit(tsc.status ?? 1);
  }
}

const run = spawnSync(
  process.execPath,
  ['--conditions=weir-source', '--import', 'tsx', '--test', '--test-reporter=spec', ...runnerFlags, ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent' } },
);
process.exit(run.status ?? 1);
