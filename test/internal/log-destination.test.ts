// Log destinations that cannot be written must not keep a process from serving or from stopping: a log
// reader that died (EPIPE on stdout) and a full disk (ENOSPC on the access log's file, /dev/full here).
// Real processes, real pipes, real signals.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { describe, it } from 'node:test';

const FIXTURE = new URL('../fixtures/log-sink-app.ts', import.meta.url).pathname;

interface Started {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

async function start(env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, ['--conditions=weir-source', '--import', 'tsx', FIXTURE], {
    env: { ...process.env, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const found = /"url":"(http:\/\/127\.0\.0\.1:\d+)".*"msg":"listening"/.exec(out);
      if (found === null) return;
      child.stdout!.off('data', onData);
      resolve(found[1]!);
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`exited ${code} before listening: ${out}${err}`)));
  });
  return { child, url, stderr: () => err };
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
