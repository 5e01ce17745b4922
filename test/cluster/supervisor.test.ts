import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertCleanReload, get, type Primary, reloadUnderLoad, startServe } from '../helpers/cluster.ts';
import { spawnTs } from '../helpers/process.ts';

/** Ends the primary if a test left it running (its workers exit when their channel to it closes). */
function cleanup(primary: Primary): void {
  if (primary.child.exitCode === null) primary.child.kill('SIGKILL');
}

const serving = /weir: serving http:\/\/127\.0\.0\.1:\d+ with (\d+) workers?/;

describe('weir serve --workers', () => {
  it('prints one startup line with the worker count and the backends, the memory cache noted as per worker', async () => {
    const primary = await startServe(['--workers', '2']);
    try {
      const line = (await primary.waitFor(/weir: serving http.*\n/))[0];
      assert.match(line, /with 2 workers \(primary pid \d+\): cache memory: \(one per worker, not shared\)/);
      assert.equal(primary.output().match(/weir: serving/g)?.length, 1);
      const pids = new Set<string>();
      for (let i = 0; i < 20 && pids.size < 2; i++) {
        const res = await get(primary.port, '/');
        if ('body' in res) pids.add(res.body);
      }
      assert.equal(pids.size, 2, 'both workers answer');
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited, 0);
    } finally {
      cleanup(primary);
    }
  });

  it('restarts a worker that exits, with one line naming its exit code and uptime', async () => {
    const primary = await startServe(['--workers', '1']);
    try {
      await primary.waitFor(serving);
      const before = await get(primary.port, '/');
      assert.ok('body' in before);
      await get(primary.port, '/exit');
      await primary.waitFor(
        new RegExp(
          `worker 1 \\(pid ${before.body}\\) exited with code 7 after \\d+\\.\\d s; restarting it in 100 ms`,
        ),
      );
      let after: Awaited<ReturnType<typeof get>> = { error: 'none yet' };
      for (let i = 0; i < 200; i++) {
        after = await get(primary.port, '/');
        if ('body' in after) break;
        await sleep(50);
      }
      assert.ok('body' in after, JSON.stringify(after));
      assert.notEqual(after.body, before.body);
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited, 0);
    } finally {
      cleanup(primary);
    }
  });

  it('stops restarting a worker that exits 5 times within 30 s and exits 1 with none left', async () => {
    const primary = await startServe(['--workers', '1'], { CLUSTER_CRASH_AT_START: '1' });
    try {
      assert.equal(await primary.exited, 1);
      const out = primary.output();
      assert.equal(out.match(/restarting it in/g)?.length, 4, out);
      assert.match(out, /restarting it in 100 ms[\s\S]*200 ms[\s\S]*400 ms[\s\S]*800 ms/);
      assert.match(
        out,
        /exited with code 1 after [\d.]+ s; it exited 5 times within 30\.0 s: not restarting it/,
      );
      assert.match(out, /no worker left; the primary exits/);
    } finally {
      cleanup(primary);
    }
  });

  it('on SIGTERM lets every worker finish its requests in flight, then exits 0', async () => {
    const primary = await startServe(['--workers', '2']);
    try {
      await primary.waitFor(serving);
      const slow = Array.from({ length: 6 }, () => get(primary.port, '/slow?ms=1500'));
      await sleep(400);
      primary.child.kill('SIGTERM');
      const results = await Promise.all(slow);
      for (const r of results) assert.deepEqual('status' in r ? r.status : r, 200);
      assert.equal(new Set(results.map((r) => ('body' in r ? r.body : ''))).size, 2, 'both workers drained');
      assert.equal(await primary.exited, 0);
      assert.match(primary.output(), /SIGTERM: draining 2 workers[\s\S]*every worker stopped/);
    } finally {
      cleanup(primary);
    }
  });

  it('kills a worker that has not stopped 5 s after the drain deadline, with a line saying so', async () => {
    const primary = await startServe(['--workers', '1', '--drain-timeout', '300'], {
      CLUSTER_HANG_ON_STOP: '1',
    });
    try {
      await primary.waitFor(serving);
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited, 0);
      assert.match(primary.output(), /worker 1 \(pid \d+\) did not stop within 5\.3 s; killing it/);
    } finally {
      cleanup(primary);
    }
  });

  it('stops a reload whose new worker fails at start, and the old workers keep serving', async () => {
    const flag = join(mkdtempSync(join(tmpdir(), 'weir-cluster-')), 'broken');
    const primary = await startServe(['--workers', '2'], { CLUSTER_FAIL_IF: flag });
    try {
      await primary.waitFor(serving);
      writeFileSync(flag, '');
      primary.child.kill('SIGHUP');
      await primary.waitFor(/new worker 1 \(pid \d+\) exited with code 1 before it was ready/);
      await primary.waitFor(/reload stopped after 0 of 2: the old workers keep serving/);
      for (let i = 0; i < 10; i++) assert.ok('body' in (await get(primary.port, '/')));
      assert.doesNotMatch(primary.output(), /restarting it/);
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited, 0);
    } finally {
      cleanup(primary);
      rmSync(dirname(flag), { recursive: true, force: true });
    }
  });

  it('does not restart a worker that exits while a reload starts its replacement: the replacement takes its place', async () => {
    const flag = join(mkdtempSync(join(tmpdir(), 'weir-cluster-')), 'slow');
    const primary = await startServe(['--workers', '1'], { CLUSTER_SLOW_IF: flag });
    try {
      await primary.waitFor(serving);
      writeFileSync(flag, '');
      primary.child.kill('SIGHUP');
      await primary.waitFor(/reloading 1 worker/);
      await get(primary.port, '/exit');
      await primary.waitFor(
        /worker 1 \(pid \d+\) exited with code 7 after [\d.]+ s; its replacement is starting/,
      );
      await primary.waitFor(/reload done: 1 worker replaced/);
      const pids = new Set<string>();
      for (let i = 0; i < 10; i++) {
        const res = await get(primary.port, '/');
        assert.ok('body' in res, JSON.stringify(res));
        pids.add(res.body);
      }
      assert.equal(pids.size, 1);
      assert.doesNotMatch(primary.output(), /restarting it/);
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited, 0);
    } finally {
      cleanup(primary);
      rmSync(dirname(flag), { recursive: true, force: true });
    }
  });

  it('on a second SIGTERM while draining kills the workers at once and exits 1', async () => {
    const primary = await startServe(['--workers', '2'], { CLUSTER_HANG_ON_STOP: '1' });
    try {
      await primary.waitFor(serving);
      primary.child.kill('SIGTERM');
      await primary.waitFor(/SIGTERM: draining 2 workers/);
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited, 1);
      assert.match(primary.output(), /second SIGTERM: killing the workers now/);
    } finally {
      cleanup(primary);
    }
  });

  it('exits a stopped worker 2 s after its close when the primary never answers it, not never', async () => {
    const child = spawnTs(new URL('../fixtures/silent-primary.ts', import.meta.url));
    assert.equal(await child.exited(), 0);
    const { code, stopMs } = JSON.parse(child.output()) as { code: number; stopMs: number };
    assert.equal(code, 0);
    assert.ok(stopMs >= 1900 && stopMs < 10_000, `stopped after ${stopMs} ms`);
  });

  it('reloads every worker one at a time, three times, under steady load with no failed or unanswered request', async () => {
    const primary = await startServe(['--workers', '2']);
    try {
      await primary.waitFor(serving);
      // Eight clients on kept-alive connections, eight opening a connection per request (the primary hands
      // each to a worker, and one handed to a worker as it stops must still be answered).
      assertCleanReload(await reloadUnderLoad(primary, { reloads: 3, kept: 8, fresh: 8 }));
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited, 0);
    } finally {
      cleanup(primary);
    }
  });
});
