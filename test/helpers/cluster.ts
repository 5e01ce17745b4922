// Multi-process tests: a free port, a `weir serve … --workers N` primary with its output, a GET that
// reports socket errors instead of throwing.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const entry = fileURLToPath(new URL('../fixtures/cluster-app.ts', import.meta.url));

/** A port free right now. */
export async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A `weir serve … --workers N` primary, its stdout and stderr collected together. */
export interface Primary {
  readonly child: ChildProcess;
  readonly port: number;
  output(): string;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

export async function startServe(
  args: readonly string[],
  env: Record<string, string> = {},
  file = entry,
): Promise<Primary> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['--conditions=weir-source', '--import', 'tsx', 'scripts/weir.mjs', 'serve', file, ...args],
    { cwd: root, env: { ...process.env, PORT: String(port), ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const onData = (c: Buffer): void => {
    out += c.toString();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    child,
    port,
    output: () => out,
    exited,
    async waitFor(pattern, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(out);
        if (match !== null) return match;
        if (done || Date.now() > until)
          throw new Error(`no ${pattern} (${done ? 'the primary exited' : 'timed out'}): ${out}`);
        await sleep(20);
      }
    },
  };
}

/**
 * GET `path`; resolves with the status and body, or `error` with the socket error's code, or `no answer`
 * when none came within `timeoutMs` (the request is then abandoned).
 */
export function get(
  port: number,
  path: string,
  agent?: Agent,
  timeoutMs = 10_000,
): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: agent ?? false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    req.setTimeout(timeoutMs, () => {
      resolve({ error: 'no answer' });
      req.destroy();
    });
    req.end();
  });
}

/** What {@link reloadUnderLoad} saw. */
export interface ReloadRun {
  /** Each request that failed or went unanswered (5 s), by its error or status. */
  failures: string[];
  sent: number;
  /** The pids that answered before the first reload, and in the moment after the last. */
  before: Set<string>;
  after: Set<string>;
}

/**
 * Reloads `primary`'s 2 workers `reloads` times (SIGHUP, one after another) while clients send GET /
 * one request after another, bounded in count and time: `kept` of them on kept-alive connections, `fresh`
 * opening a connection per request.
 */
export async function reloadUnderLoad(
  primary: Primary,
  { reloads, kept, fresh }: { reloads: number; kept: number; fresh: number },
): Promise<ReloadRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: kept });
  const seen = new Set<string>();
  const failures: string[] = [];
  let sent = 0;
  let stop = false;
  const deadline = Date.now() + 90_000;
  const client = async (keepAlive: boolean): Promise<void> => {
    while (!stop && sent < 200_000 && Date.now() < deadline) {
      sent++;
      const res = await get(primary.port, '/', keepAlive ? agent : undefined, 5000);
      if ('error' in res) failures.push(res.error);
      else if (res.status !== 200) failures.push(`status ${res.status}`);
      else seen.add(res.body);
    }
  };
  const clients = Array.from({ length: kept + fresh }, (_, i) => client(i < kept));
  await sleep(500);
  const before = new Set(seen);
  for (let reload = 1; reload <= reloads; reload++) {
    primary.child.kill('SIGHUP');
    await primary.waitFor(new RegExp(`(reload done: 2 workers replaced[^]*){${reload}}`), 60_000);
  }
  await sleep(500);
  seen.clear();
  await sleep(300);
  stop = true;
  await Promise.all(clients);
  agent.destroy();
  return { failures, sent, before, after: seen };
}

/** Asserts that a {@link reloadUnderLoad} run lost nothing and ended on new workers only. */
export function assertCleanReload({ failures, sent, before, after }: ReloadRun): void {
  assert.deepEqual(failures, [], `${failures.length} of ${sent} requests failed`);
  assert.ok(sent > 100, `only ${sent} requests sent`);
  for (const pid of after) assert.ok(!before.has(pid), `old worker ${pid} still answers after the reload`);
}
