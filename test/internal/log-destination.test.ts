// Log destinations that cannot be written must not keep a process from serving or from stopping: a log
// reader that died (EPIPE on stdout), one that stopped reading (a full pipe, a full FIFO) and a full disk
// (ENOSPC on the access log's file, /dev/full here). Real processes, pipes and signals, on weir's build:
// `npm run build` first when running this file alone.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';

// weir's build (dist/), as an installed package runs: see the fixture.
const FIXTURE = new URL('../fixtures/log-sink-app.mjs', import.meta.url).pathname;

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

/** Fixtures still running: a failed test leaves none behind (see afterEach below). */
const running = new Set<ChildProcess>();

/** The fixture (with Node's `flags`), its stdout a pipe to this process unless `stdout` (a descriptor) is given. */
async function start(
  env: Record<string, string> = {},
  stdout?: number,
  flags: string[] = [],
): Promise<Started> {
  const child = spawn(process.execPath, [...flags, FIXTURE], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', stdout ?? 'pipe', 'pipe'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let err = '';
  const url = new Promise<string>((resolve, reject) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      err += chunk.toString();
      const found = /^serving (http:\/\/127\.0\.0\.1:\d+)$/m.exec(err);
      if (found !== null) resolve(found[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${err}`)));
  });
  return { child, url: await url, stderr: () => err };
}

const MiB = 1024 * 1024;

/** The bytes of heap and external memory the fixture holds after a full collection. */
function held(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpGet(`${url}/held`, { agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve((JSON.parse(body) as { bytes: number }).bytes));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}/held: no answer within 5 s`)));
    req.on('error', reject);
  });
}

/** The status of `GET url` on a connection of its own, closed after it: none is left for the stop to drain. */
function get(url: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: no answer within 5 s`)));
    req.on('error', reject);
  });
}

/** The exit code, or a failure (and SIGKILL) when the process has not exited within `ms`. */
async function exitWithin(child: ChildProcess, ms: number): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  let timer: NodeJS.Timeout | undefined;
  const code = await Promise.race([
    new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c))),
    new Promise<'hung'>((resolve) => {
      timer = setTimeout(() => resolve('hung'), ms);
    }),
  ]);
  clearTimeout(timer);
  if (code === 'hung') {
    child.kill('SIGKILL');
    assert.fail(`the process had not exited ${ms} ms after SIGTERM`);
  }
  return code;
}

describe('log destinations that cannot be written', { timeout: 60_000 }, () => {
  afterEach(() => {
    for (const child of running) child.kill('SIGKILL');
  });

  it('a service whose stdout reader is gone still stops on SIGTERM, with exit code 0', async () => {
    const { child, url } = await start();
    assert.equal(await get(`${url}/`), 200);
    // The only reader of the pipe closes it: each later line on stdout fails with EPIPE, as when the
    // log collector a service is piped to dies.
    child.stdout!.destroy();
    assert.equal(await get(`${url}/`), 200, 'still serving');
    // With no connection to drain, it logs "stopping" and "stopped" to the dead pipe and exits while the
    // first of those writes is still under way: the exit's flush meets the EPIPE.
    child.kill('SIGTERM');
    assert.equal(await exitWithin(child, 8000), 0);
  });

  it('a service whose stdout reader stopped reading (its end still open) stops on SIGTERM within seconds', async () => {
    const { child, url } = await start();
    // Nobody reads the pipe any more: 300 lines of a KiB fill it (64 KiB), and the write under way waits
    // in the kernel, as when a log collector hangs.
    child.stdout!.pause();
    child.stdout!.removeAllListeners('data');
    assert.equal(await get(`${url}/log?count=300`), 200);
    assert.equal(await get(`${url}/`), 200, 'still serving');
    // Past a second without progress the exit gives the waiting lines up instead of blocking on them.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    child.kill('SIGTERM');
    assert.equal(await exitWithin(child, 8000), 0);
    child.stdout!.destroy();
  });

  it('holds at most 16 MiB of stdout lines for a reader that stopped reading, dropping the rest', async () => {
    // --expose-gc: the fixture's /held collects first, so that what it reports is what the process keeps,
    // not the garbage of the lines it made (the resident set also counts that, by a margin that differs
    // between Node lines).
    const { child, url } = await start({}, undefined, ['--expose-gc']);
    child.stdout!.pause();
    child.stdout!.removeAllListeners('data');
    assert.equal(await get(`${url}/log?count=1000`), 200); // the pipe is full from here on
    const before = await held(url);
    // 160 MiB of lines more, all of them waiting: without the bound the process would hold them all.
    for (let i = 0; i < 16; i++) assert.equal(await get(`${url}/log?count=10000`), 200);
    const grown = (await held(url)) - before;
    assert.ok(
      grown < 40 * MiB,
      `the process holds ${(grown / MiB).toFixed(0)} MiB more for 160 MiB of waiting lines`,
    );
    assert.equal(await get(`${url}/`), 200, 'still serving');
    child.kill('SIGTERM');
    assert.equal(await exitWithin(child, 8000), 0);
    child.stdout!.destroy();
  });

  it('a service whose stdout is a FIFO nobody reads (as Docker gives a container) stops on SIGTERM within seconds', {
    skip: process.platform !== 'linux' && 'mkfifo semantics checked on Linux',
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-log-fifo-'));
    const fifo = join(dir, 'stdout');
    execFileSync('mkfifo', [fifo]);
    // Read-write: opening never waits, and it keeps a reader on the FIFO that never reads. The child's
    // end is a plain (blocking) write descriptor: a full FIFO holds its write in the kernel.
    const reader = openSync(fifo, 'r+');
    const writer = openSync(fifo, 'w');
    try {
      const { child, url } = await start({}, writer);
      assert.equal(await get(`${url}/log?count=300`), 200);
      assert.equal(await get(`${url}/`), 200, 'still serving');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      child.kill('SIGTERM');
      assert.equal(await exitWithin(child, 8000), 0);
    } finally {
      closeSync(writer);
      closeSync(reader);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an access log on a full disk: the service goes on serving, says so once on stderr, and stops on SIGTERM', {
    skip: !existsSync('/dev/full') && 'no /dev/full here',
  }, async () => {
    const { child, url, stderr } = await start({ ACCESS_LOG_TO: '/dev/full' });
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20; i++) assert.equal(await get(`${url}/`), 200);
      // The access log writes its batch at least once a second.
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    assert.equal(await get(`${url}/`), 200, 'still serving after the failed writes');
    const lines = stderr()
      .split('\n')
      .filter((line) => line.includes('cannot write'));
    assert.deepEqual(lines, ['weir: cannot write the access log /dev/full: ENOSPC']);
    child.kill('SIGTERM');
    assert.equal(await exitWithin(child, 8000), 0);
  });
});
