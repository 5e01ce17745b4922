#!/usr/bin/env node
// `npm start`: the reference service as it runs in production, compiled to JavaScript, with no TypeScript
// loader in the process. weir itself runs from dist/ (built by `npm ci`'s prepare step, and rebuilt here
// when src/ changed since); examples/service is transpiled into .build/service/<hash of its sources>/ the
// first time those sources are seen, which takes about a second, and then reused, so a start only checks
// the files' sizes and times. For development, `npx weir dev examples/service/main.ts` restarts on change.
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { ensureServiceBuild } from './service-build.mjs';

const root = new URL('..', import.meta.url).pathname;
let main;
try {
  main = await ensureServiceBuild({
    root,
    buildWeir: () => {
      process.stderr.write('weir: src/ changed since dist/ was built: building it (npm run build)\n');
      const run = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
      if (run.status !== 0) throw new Error('npm run build failed (see above)');
    },
  });
} catch (err) {
  process.stderr.write(`weir: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
await import(pathToFileURL(main).href);
