#!/usr/bin/env node
// `npm start`: the reference service as it runs in production, compiled to JavaScript, with no TypeScript
// loader in the process. weir itself runs from dist/ (built by `npm ci`'s prepare step, and rebuilt here
// when src/ changed since); examples/service is transpiled into .build/service/<hash of its sources>/ the
// first time those sources are seen, which takes about a second, and then reused, so a start only checks
// the files' sizes and times. For development, `npx weir dev examples/service/main.ts` restarts on change.
// WEB_CONCURRENCY=N (or `auto`, one per CPU) runs it in N worker processes sharing the port, under a
// primary (this script again, which builds and supervises but loads none of the service); unset or 1, one
// process.
import { spawnSync } from 'node:child_process';
import cluster from 'node:cluster';
import { pathToFileURL } from 'node:url';
import { ensureServiceBuild } from './service-build.mjs';

const root = new URL('..', import.meta.url).pathname;

/** The compiled service, built first if missing or stale (by the primary only: it builds before forking). */
async function build() {
  try {
    return await ensureServiceBuild({
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
}

if (cluster.isWorker) {
  // Tell the primary when the service listens, and drain when it says stop.
  (await import('weir/cluster')).attachWorker();
  await import(pathToFileURL(await build()).href);
} else {
  const main = await build();
  const { startPrimary, webConcurrency } = await import('weir/cluster');
  let workers;
  try {
    workers = webConcurrency(process.env.WEB_CONCURRENCY);
  } catch (err) {
    process.stderr.write(`weir: cannot start: ${err.message}\n`);
    process.exit(1);
  }
  if (workers === undefined) await import(pathToFileURL(main).href);
  else startPrimary({ workers, scheduling: process.env.WEIR_SCHEDULING === 'none' ? 'none' : 'rr' });
}
