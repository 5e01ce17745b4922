/**
 * idempotency() across processes: two real servers on one Redis (one plain, one tiered) run a key once
 * between them, however the duplicates are spread; an in-process cache under workers refuses to start.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from '../helpers/http.ts';
import { spawnTs, type TsProcess } from '../helpers/process.ts';
import { REDIS_URL, redisSkip, uniqueNamespace } from '../helpers/services.ts';

const skip = await redisSkip();
const fixture = new URL('../fixtures/idempotency-server.ts', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'weir-idempotency-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function start(env: Record<string, string>): Promise<{ server: TsProcess; port: number }> {
  const server = spawnTs(fixture, env);
  const [, port] = await server.waitFor(/listening (\d+)\n/);
  return { server, port: Number(port) };
}

async function stop(server: TsProcess): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exited();
}

const order = (port: number, key: string, item = 'book') =>
  request(
    { port },
    {
      method: 'POST',
      path: '/orders',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ item }),
    },
  );

/**
 * A client's retry: a 409 with Retry-After is tried again. On tiered+redis:, another process may still
 * hold the running claim in its L1 for the moment the invalidation takes to reach it.
 */
async function orderUntilSettled(port: number, key: string, item?: string) {
  for (let i = 0; ; i++) {
    const res = await order(port, key, item);
    if (res.status !== 409 || i === 20) return res;
    await delay(50);
  }
}

for (const url of [REDIS_URL, `tiered+${REDIS_URL}`]) {
  describe(`idempotency() across two processes on ${url.split(':')[0]}`, { skip }, () => {
    it('runs a key once between them: concurrent duplicates get 409, later ones the same response', async () => {
      const runs = join(dir, `runs-${url.length}`);
      writeFileSync(runs, '');
      const namespace = uniqueNamespace('idem');
      // Both are started as workers would be: a shared cache is accepted there.
      const env = { CACHE_NAMESPACE: namespace, RUNS_FILE: runs, WEIR_WORKER_SLOT: '1', CACHE_URL: url };
      const [a, b] = await Promise.all([start(env), start(env)]);
      try {
        const fired = await Promise.all(
          Array.from({ length: 16 }, (_, i) => order(i % 2 === 0 ? a.port : b.port, 'order-42')),
        );
        const statuses = fired.map((r) => r.status).sort();
        assert.equal(statuses.filter((s) => s === 201).length, 1, String(statuses));
        assert.ok(
          fired.every((r) => r.status === 201 || (r.status === 409 && r.headers['retry-after'] === '1')),
          String(statuses),
        );
        const lines = readFileSync(runs, 'utf8').trim().split('\n');
        assert.equal(lines.length, 1, 'one execution between the two processes');
        const first = fired.find((r) => r.status === 201)!;
        for (const port of [a.port, b.port]) {
          const replay = await orderUntilSettled(port, 'order-42');
          assert.equal(replay.status, 201);
          assert.equal(replay.body, first.body);
          assert.equal(replay.headers['idempotent-replayed'], 'true');
          const reused = await orderUntilSettled(port, 'order-42', 'lamp');
          assert.equal(reused.status, 422);
          assert.match(reused.body, /WEIR_ERR_IDEMPOTENCY_KEY_REUSED/);
        }
        assert.equal(readFileSync(runs, 'utf8').trim().split('\n').length, 1);
      } finally {
        await Promise.all([stop(a.server), stop(b.server)]);
      }
    });
  });
}

describe('idempotency() on an in-process cache under workers', () => {
  it('refuses to start, with WEIR_ERR_INVALID_OPTION', async () => {
    const server = spawnTs(fixture, {
      CACHE_URL: 'memory:',
      WEIR_WORKER_SLOT: '1',
      RUNS_FILE: join(dir, 'x'),
    });
    assert.equal((await server.waitFor(/refused (\w+)\n/))[1], 'WEIR_ERR_INVALID_OPTION');
    assert.equal(await server.exited(), 1);
  });
});
