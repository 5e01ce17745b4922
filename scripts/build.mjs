#!/usr/bin/env node
// `npm run build` (and `prepare`, so a clone, a git install and `npm pack` all get a dist/): compiles src/
// to dist/ with declarations and both kinds of source map, then copies the files beside the sources that
// are not TypeScript (the SQL migrations weir ships), which code finds relative to its own file. dist/ is
// emptied first, so a source file that was deleted or renamed leaves nothing behind in the package.
import { spawnSync } from 'node:child_process';
import { cpSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('..', import.meta.url).pathname;
let tsc;
try {
  tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
} catch {
  // `npm ci --omit=dev` (a deploy of the reference service, which runs from source) has no compiler;
  // failing there would fail the whole install for a build nobody uses.
  if (process.env.npm_lifecycle_event === 'prepare') {
    console.warn('weir: typescript is not installed (--omit=dev?), so dist/ is not built');
    process.exit(0);
  }
  console.error('weir: typescript is not installed; run `npm ci` first');
  process.exit(1);
}
rmSync(new URL('../dist', import.meta.url), { recursive: true, force: true });
const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (run.status === 0) {
  cpSync(new URL('../src', import.meta.url), new URL('../dist', import.meta.url), {
    recursive: true,
    filter: (source) => statSync(source).isDirectory() || !source.endsWith('.ts'),
  });
}
process.exit(run.status ?? 1);
