/**
 * The `weir` command. `run(argv, io)` is the whole CLI, so tests call it directly; `bin/weir.js` is a
 * two-line shim.
 *
 *   weir serve ENTRY [--port N] [--host H]   start the App that ENTRY exports (default export or `app`)
 *     [--workers N|auto] [--pid-file F]      … in N worker processes under a supervising primary
 *   weir reload --pid-file F                 rolling reload of the primary whose pid F holds
 *   weir dev ENTRY [--port N] [--host H]     the same, restarted on every change, with readable logs
 *   weir worker ENTRY                        run only the job workers ENTRY's App registers
 *   weir routes ENTRY                        list ENTRY's routes
 *   weir db migrate [--dir D] [--url U]      apply the migrations in D/<engine>/ to U
 *   weir bench URL [options]                 load a running service, report req/s and latency per status
 *   weir --version | --help
 */
import cluster from 'node:cluster';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchCommand } from '../bench/command.ts';
import { type PidFileState, readPidFile } from '../cluster/pid-file.ts';
import { isScheduling } from '../cluster/scheduling.ts';
import { startPrimary } from '../cluster/supervisor.ts';
import { attachWorker } from '../cluster/worker.ts';
import { webConcurrency, workerCount } from '../cluster/workers.ts';
import { migrate } from '../db/migrations.ts';
import { openDatabase } from '../db/open.ts';
import type { App } from '../http/app.ts';
import type { ServerHandle } from '../http/server.ts';
import { type Inspection, startInspecting } from '../internal/inspect.ts';
import { devCommand } from './dev.ts';

/** Where the CLI writes; replaced in tests. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

const USAGE = `Usage:
  weir serve ENTRY [--port N] [--host H]   serve the App exported by ENTRY (PORT, HOST env work too)
       [--workers N|auto]                  … in N processes sharing the port (WEB_CONCURRENCY too;
                                           auto: one per CPU), supervised by a primary that restarts
                                           crashed workers; SIGHUP reloads them one at a time
       [--pid-file F] [--drain-timeout MS]  (default 10000: a worker still running 5 s later is killed)
       [--scheduling rr|none|reuseport]
  weir reload --pid-file F                 rolling reload of the \`weir serve --workers\` primary
                                           whose pid F holds (sends it SIGHUP)
  weir dev ENTRY [--port N] [--host H]     run ENTRY (TypeScript as it is), restart it when a file changes,
                                           readable logs and one line per request
  weir worker ENTRY                        run only the job workers the App registers (app.worker()),
                                           no HTTP; SIGTERM stops them gracefully
  weir routes ENTRY                        list the routes of the App exported by ENTRY
  weir openapi ENTRY [--out F]             print (or write to F) the OpenAPI 3.1 document of that App
  weir db migrate [--dir D] [--url U]      apply the SQL files in D/<engine>/ not applied yet
                                           (D defaults to ./migrations, U to DATABASE_URL,
                                           then sqlite:./data/weir.db)
  weir bench URL [options]                 load a running service (wrk, else autocannon): req/s and
                                           latency per status class; \`weir bench --help\` for options
  weir --version
ENTRY is a module whose default export (or export named "app") is a weir App; an export named "backends"
(name → URL without password) goes into the startup line.`;

const defaultIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function isApp(value: unknown): value is App<object> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as App).listen === 'function' &&
    typeof (value as App).routes === 'function'
  );
}

/**
 * Imports ENTRY and finds its App: the default export, the export named `app`, or, in inspect mode, the
 * app whose `listen()` the module called at top level.
 */
async function loadApp(
  entry: string,
  inspection?: Inspection,
  exported?: { backends?: Record<string, unknown> },
): Promise<App<object>> {
  const url = pathToFileURL(resolve(entry)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const hint = entry.endsWith('.ts')
      ? ' (to load TypeScript on Node 20, run with `node --import tsx`)'
      : '';
    throw new Error(`Cannot load ${entry}: ${(err as Error).message}${hint}`, { cause: err });
  }
  if (exported !== undefined && typeof mod.backends === 'object' && mod.backends !== null)
    exported.backends = mod.backends as Record<string, unknown>;
  const candidate = [mod.default, mod.app, ...(inspection?.apps ?? [])].find(isApp);
  if (candidate === undefined) {
    throw new Error(`${entry} exports no weir App: export it as default or as "app"`);
  }
  return candidate;
}

/**
 * The process entry of the `weir` command: runs it, then exits when the command is done. `serve` and
 * `worker` keep running; the others exit even if the entry module left a pool or timer open.
 */
export async function main(argv: readonly string[]): Promise<void> {
  const code = await run(argv);
  const command = argv.find((a) => !a.startsWith('-'));
  if (code !== 0 || (command !== 'serve' && command !== 'worker')) process.exit(code);
}

/** Runs the CLI; resolves with the exit code (a served app resolves once it listens). */
export async function run(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  // bench has options of its own; it reads its arguments itself.
  if (argv[0] === 'bench') {
    return benchCommand(
      argv.slice(1),
      io,
      io === defaultIo && process.stderr.isTTY ? { terminal: process.stderr } : {},
    );
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`weir: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    io.out(pkg.version);
    return 0;
  }
  const [command, entry] = positionals;
  if (values.help || command === undefined) {
    io.out(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  if (command === 'db') {
    if (entry !== 'migrate') {
      io.err(`weir: unknown db command: ${entry ?? '(none)'}\n${USAGE}`);
      return 2;
    }
    return migrateCommand(values.url, values.dir, io);
  }
  if (command === 'reload') return reloadCommand(values['pid-file'], io);
  if (command === 'dev' && entry !== undefined) {
    return devCommand(entry, { port: values.port, host: values.host }, io);
  }
  if (
    (command !== 'serve' && command !== 'routes' && command !== 'openapi' && command !== 'worker') ||
    entry === undefined
  ) {
    io.err(`weir: unknown command or missing ENTRY: ${positionals.join(' ')}\n${USAGE}`);
    return 2;
  }
  if (command === 'serve' && cluster.isPrimary) {
    let workers: number | undefined;
    try {
      workers =
        values.workers !== undefined
          ? workerCount(values.workers, '--workers')
          : webConcurrency(process.env.WEB_CONCURRENCY);
    } catch (err) {
      io.err(`weir: ${(err as Error).message}`);
      return 2;
    }
    if (workers !== undefined) {
      const scheduling = values.scheduling ?? process.env.WEIR_SCHEDULING;
      if (scheduling !== undefined && !isScheduling(scheduling)) {
        io.err(`weir: --scheduling must be rr, none or reuseport, got ${JSON.stringify(scheduling)}`);
        return 2;
      }
      // The primary supervises; the workers run this same command and serve ENTRY.
      const drainTimeoutMs =
        values['drain-timeout'] === undefined ? undefined : Number(values['drain-timeout']);
      if (drainTimeoutMs !== undefined && !(Number.isFinite(drainTimeoutMs) && drainTimeoutMs > 0)) {
        io.err(
          `weir: --drain-timeout must be a positive number of milliseconds, got ${JSON.stringify(values['drain-timeout'])}`,
        );
        return 2;
      }
      try {
        startPrimary({ workers, pidFile: values['pid-file'], scheduling, drainTimeoutMs, log: io.out });
      } catch (err) {
        io.err(`weir: ${(err as Error).message}`);
        return 1;
      }
      return 0;
    }
  }
  if (command === 'serve') attachWorker();
  try {
    if (command === 'routes') {
      // The module's top-level code runs (a database it opens, migrations); its listen() binds nothing.
      const app = await loadApp(entry, startInspecting({ bind: false }));
      for (const route of app.routes()) io.out(route);
      return 0;
    }
    if (command === 'openapi') {
      const app = await loadApp(entry, startInspecting({ bind: false }));
      const text = JSON.stringify(app.openapi(), null, 2);
      if (values.out === undefined) io.out(text);
      else writeFileSync(values.out, `${text}\n`);
      return 0;
    }
    const inspection = startInspecting({ bind: true });
    // An entry may export `backends` (name → redacted URL): the startup line names them.
    const exported: { backends?: Record<string, unknown> } = {};
    const app = await loadApp(entry, inspection, exported);
    if (command === 'worker') return await workerCommand(app, entry, io);
    // An entry that called listen() itself is served already.
    if (inspection.apps.includes(app)) return 0;
    const port = Number(values.port ?? process.env.PORT ?? 8080);
    const host = values.host ?? process.env.HOST ?? '127.0.0.1';
    const handle: ServerHandle = await app.listen({ port, host, startupInfo: exported.backends });
    // A worker's primary prints the one startup line for all of them.
    if (!cluster.isWorker) io.out(`weir: serving ${entry} on ${handle.url}`);
    return 0;
  } catch (err) {
    io.err(`weir: ${(err as Error).message}`);
    return 1;
  }
}

/** `weir worker ENTRY`: the app's workers without its HTTP server, until SIGTERM or SIGINT. */
async function workerCommand(app: App<object>, entry: string, io: CliIo): Promise<number> {
  const workers = app.workers();
  if (workers.length === 0) {
    io.err(`weir: ${entry} registers no worker: add one with app.worker(queue, handler)`);
    return 1;
  }
  await app.startWorkers();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    io.out('weir: stopping the workers (running jobs finish first)');
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        io.err(`weir: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  io.out(`weir: running the workers of ${entry}: ${workers.join(', ')}`);
  return 0;
}

/** `weir reload --pid-file F`: SIGHUP to the primary whose pid F holds. */
function reloadCommand(pidFile: string | undefined, io: CliIo): number {
  if (pidFile === undefined) {
    io.err('weir: reload needs --pid-file F, the file `weir serve --workers N --pid-file F` writes');
    return 2;
  }
  let state: PidFileState;
  try {
    state = readPidFile(pidFile);
  } catch (err) {
    io.err(`weir: cannot read ${pidFile}: ${(err as Error).message}`);
    return 1;
  }
  if (state.kind === 'missing') {
    io.err(`weir: ${pidFile} does not exist (is the primary running?)`);
    return 1;
  }
  if (state.kind === 'invalid') {
    io.err(`weir: ${pidFile} holds no pid`);
    return 1;
  }
  if (state.kind === 'stale') {
    io.err(
      `weir: ${pidFile} names pid ${state.pid}, which is not a running primary (the file outlived a killed primary); nothing reloaded`,
    );
    return 1;
  }
  const pid = state.pid;
  try {
    process.kill(pid, 'SIGHUP');
  } catch (err) {
    io.err(`weir: cannot signal pid ${pid} from ${pidFile}: ${(err as Error).message}`);
    return 1;
  }
  io.out(`weir: asked the primary (pid ${pid}) to reload its workers one at a time`);
  return 0;
}

/** `weir db migrate`: one line per file applied, one line of summary; one line on failure. */
async function migrateCommand(url: string | undefined, dir: string | undefined, io: CliIo): Promise<number> {
  let db: Awaited<ReturnType<typeof openDatabase>> | undefined;
  try {
    db = await openDatabase(url);
    const { applied, skipped } = await migrate(db, { dir });
    for (const name of applied) io.out(`applied ${name}`);
    io.out(`weir: ${db.url} is up to date (${applied.length} applied now, ${skipped.length} before)`);
    return 0;
  } catch (err) {
    io.err(`weir: ${(err as Error).message}`);
    return 1;
  } finally {
    await db?.close();
  }
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      url: { type: 'string' },
      dir: { type: 'string' },
      workers: { type: 'string', short: 'w' },
      'pid-file': { type: 'string' },
      out: { type: 'string' },
      'drain-timeout': { type: 'string' },
      scheduling: { type: 'string' },
      version: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
