#!/usr/bin/env node
// `npm start`: the reference service as it runs in production, compiled to JavaScript, with no TypeScript
// loader or compiler in the process. weir itself runs from dist/ (built by `npm ci`'s prepare step, and
// rebuilt when src/ changed since); examples/service is transpiled into .build/service/<hash of its
// sources>/ the first time those sources are seen (by scripts/service-build.mjs, in a process of its own),
// and then reused, so a start only reads the files' sizes and times. On Node 22.1 and later, compiled code
// is cached in .build/compile-cache/ as well. For development, `npx weir dev examples/service/main.ts`
// restarts on change.
import { spawnSync } from 'node:child_process';
import module from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serviceBuild } from './service-build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
let { main, ready } = serviceBuild({ root });
if (!ready) {
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'service-build.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (build.status !== 0) process.exit(1); // it said why, on stderr
  main = build.stdout.trim();
}
module.enableCompileCache?.(join(process.env.WEIR_BUILD_DIR || join(root, '.build'), 'compile-cache'));
await import(pathToFileURL(main).href);
