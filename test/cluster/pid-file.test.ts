import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { run } from '../../src/cli/main.ts';
import { readPidFile } from '../../src/cluster/pid-file.ts';
import { get, startServe } from '../helpers/cluster.ts';

const serving = /weir: serving http:\/\/127\.0\.0\.1:\d+ with 1 worker \(primary pid (\d+)\)/;

async function reload(pidFile: string): Promise<{ code: number; err: string[] }> {
  const err: string[] = [];
  const code = await run(['reload', '--pid-file', pidFile], { out: () => {}, err: (l) => err.push(l) });
  return { code, err };
}

/** Waits until `pid` is gone (a SIGKILLed primary is reaped by the test's child handle). */
async function gone(pid: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(25);
  }
  throw new Error(`pid ${pid} still runs`);
}

describe('the primary pid file', () => {
  it('is taken over after a primary was SIGKILLed, and weir reload refuses the stale file meanwhile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-pid-'));
    const pidFile = join(dir, 'weir.pid');
    const first = await startServe(['--workers', '1', '--pid-file', pidFile]);
    let second: Awaited<ReturnType<typeof startServe>> | undefined;
    try {
      const oldPid = Number((await first.waitFor(serving))[1]);
      first.child.kill('SIGKILL');
      await first.exited;
      await gone(oldPid);
      assert.equal(readFileSync(pidFile, 'utf8').trim(), String(oldPid), 'SIGKILL leaves the file behind');
      assert.deepEqual(readPidFile(pidFile), { kind: 'stale', pid: oldPid });

      const refused = await reload(pidFile);
      assert.equal(refused.code, 1);
      assert.match(refused.err[0]!, new RegExp(`names pid ${oldPid}, which is not a running primary`));

      second = await startServe(['--workers', '1', '--pid-file', pidFile]);
      const newPid = Number((await second.waitFor(serving))[1]);
      assert.match(
        second.output(),
        new RegExp(`weir: .*weir\\.pid named pid ${oldPid}, which is not running`),
      );
      assert.equal(readFileSync(pidFile, 'utf8').trim(), String(newPid));
      assert.equal((await reload(pidFile)).code, 0);
      await second.waitFor(/reload done: 1 worker replaced/);
      assert.ok('status' in (await get(second.port, '/')));
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0);
      assert.equal(existsSync(pidFile), false, 'a primary that stops removes its file');
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
      if (second !== undefined && second.child.exitCode === null) second.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a second primary on a file a running primary owns, and leaves that file alone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-pid-'));
    const pidFile = join(dir, 'weir.pid');
    const first = await startServe(['--workers', '1', '--pid-file', pidFile]);
    try {
      const pid = (await first.waitFor(serving))[1]!;
      const second = await startServe(['--workers', '1', '--pid-file', pidFile]);
      assert.equal(await second.exited, 1);
      assert.match(
        second.output(),
        new RegExp(`weir\\.pid names pid ${pid}, a running process: is another primary running\\?`),
      );
      assert.doesNotMatch(second.output(), /weir: serving/);
      assert.equal(readFileSync(pidFile, 'utf8').trim(), pid);
      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 0);
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts a pid reused by a program that is not Node as stale, so reload signals nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-pid-'));
    const pidFile = join(dir, 'weir.pid');
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await once(other, 'spawn');
      writeFileSync(pidFile, `${other.pid}\n`);
      assert.deepEqual(readPidFile(pidFile), { kind: 'stale', pid: other.pid });
      assert.equal((await reload(pidFile)).code, 1);
      assert.equal(other.exitCode, null);
      assert.equal(other.signalCode, null, 'the unrelated process got no SIGHUP');
      writeFileSync(pidFile, 'not a pid\n');
      assert.deepEqual(readPidFile(pidFile), { kind: 'invalid' });
      writeFileSync(pidFile, `${process.pid}\n`);
      assert.deepEqual(readPidFile(pidFile), { kind: 'running', pid: process.pid });
    } finally {
      other.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
