#!/usr/bin/env node
// `npm start`: the reference service as it runs in production, compiled to JavaScript, with no TypeScript
// loader or compiler in the process. weir itself runs from dist/ (built by `npm ci`'s prepare step, and
// rebuilt when src/ changed since); examples/service is bundled with it into .build/service/<hash of its
// sources and of dist/>/ the first time those are seen (by scripts/service-build.mjs, in a process of its
// own), and then reused, so a start only reads the files' sizes and times. On Node 22.1 and later, compiled code
// is cached in .build/compile-cache/ as well. For development, `npx weir dev examples/service/main.ts`
// restarts on change.
// WEB_CONCURRENCY=N (or `auto`, one per CPU) runs it in N worker processes sharing the port, under a
// primary (this script again, which builds and supervises but loads none of the service); unset or 1, one
// process.
import { spawnSync } from 'node:child_process';
import cluster from 'node:cluster';
import module from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { serviceBuild } from './service-build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

/** The compiled service's main.js, built first if missing or stale (by the primary: it builds before forking). */
function build() {
  const { main, ready } = serviceBuild({ root });
  if (ready) return main;
  const run = spawnSync(process.execPath, [join(root, 'scripts', 'service-build.mjs')], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (run.status !== 0) process.exit(1); // it said why, on stderr
  return run.stdout.trim();
}

const main = build();
module.enableCompileCache?.(join(process.env.WEIR_BUILD_DIR || join(root, '.build'), 'compile-cache'));
if (cluster.isWorker) {
  // Tell the primary when the service listens, and drain when it says stop.
  (await import('weir/cluster')).attachWorker();
  await import(pathToFileURL(main).href);
} else if (!process.env.WEB_CONCURRENCY || process.env.WEB_CONCURRENCY.trim() === '1') {
  // One process, the common case: weir/cluster is not even loaded.
  await import(pathToFileURL(main).href);
} else {
  const { startPrimary, webConcurrency } = await import('weir/cluster');
  let workers;
  try {
    workers = webConcurrency(process.env.WEB_CONCURRENCY);
  } catch (err) {
    process.stderr.write(`weir: cannot start: ${err.message}\n`);
    process.exit(1);
  }
  if (workers === undefined) await import(pathToFileURL(main).href);
  else {
    try {
      startPrimary({
        workers,
        // rr (Node's default, the primary accepts), none or reuseport (see docs/cli.md); checked there.
        scheduling: process.env.WEIR_SCHEDULING || undefined,
        // The workers' metrics, summed, on a port of the primary's (see examples/service/entry.ts).
        ...(process.env.METRICS === 'off'
          ? {}
          : { metrics: { port: Number(process.env.METRICS_PORT || 9464) } }),
      });
    } catch (err) {
      // A malformed METRICS_PORT, say: one line, as for WEB_CONCURRENCY above.
      process.stderr.write(`weir: cannot start: ${err.message}\n`);
      process.exit(1);
    }
  }
}
