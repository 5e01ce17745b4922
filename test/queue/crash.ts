/**
 * Durability tests every backend runs: a worker killed with SIGKILL midway through 1,000 jobs, and a
 * publisher whose connection to the broker is cut while it adds.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { openDatabase } from 'weir/db';
import { hasDeadLetters, hasJobStatus, type JobQueue, openJobQueue } from 'weir/queue';
import { spawnTs } from '../helpers/process.ts';
import { within } from '../helpers/time.ts';

/**
 * Adds 1,000 jobs, starts a worker process, kills it with SIGKILL after 300 have run, starts another,
 * and checks that every job ran at least once (distinct numbers recorded) and none is left.
 */
export async function crashTest(
  url: string,
  name: string,
  cleanup?: (queue: JobQueue<unknown>) => Promise<void>,
  backlog?: (name: string) => Promise<number>,
) {
  const dir = mkdtempSync(join(tmpdir(), 'weir-crash-'));
  const doneDb = join(dir, 'done.db');
  const queue = await openJobQueue<{ n: number }>(name, { url });
  const done = await openDatabase(`sqlite:${doneDb}`);
  await done.execScript('CREATE TABLE IF NOT EXISTS done (n INTEGER NOT NULL)');
  const env = { QUEUE_URL: url, QUEUE_NAME: name, DONE_DB: doneDb, VISIBILITY_MS: '1000', WORK_MS: '5' };
  const fixture = new URL('../fixtures/queue-worker.ts', import.meta.url);
  const count = async () => (await done.one<{ c: number }>`SELECT count(DISTINCT n) AS c FROM done`).c;
  try {
    await Promise.all(Array.from({ length: 1000 }, (_, n) => queue.add({ n })));
    const first = spawnTs(fixture, env);
    await first.waitFor(/working/);
    const deadline = Date.now() + 60_000;
    while ((await count()) < 300) {
      assert.ok(Date.now() < deadline, 'the first worker made progress');
      await delay(10);
    }
    first.child.kill('SIGKILL');
    await first.exited();
    const atKill = await count();
    assert.ok(atKill < 1000, `killed midway (${atKill} done)`);
    const second = spawnTs(fixture, env);
    try {
      while ((await count()) < 1000) {
        assert.ok(Date.now() < deadline, `every job ran (${await count()} of 1000)`);
        await delay(50);
      }
      // Let the second worker record its last acks before it stops. A queue that keeps no job status is
      // asked of the broker itself, by `backlog`.
      const left = async () => {
        if (hasJobStatus(queue)) {
          const counts = await queue.counts();
          return counts.waiting + counts.active + counts.failed;
        }
        assert.ok(backlog, 'a queue without job status needs a backlog probe');
        return backlog(name);
      };
      let remaining = await left();
      for (let i = 0; i < 100 && remaining > 0; i++) {
        await delay(50);
        remaining = await left();
      }
      assert.equal(remaining, 0, 'no job is left waiting or running');
      if (hasDeadLetters(queue)) assert.deepEqual(await queue.dead(), []);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited();
    }
    assert.equal(await count(), 1000, 'every job ran at least once');
  } finally {
    await cleanup?.(queue as JobQueue<unknown>).catch(() => undefined);
    await queue.close();
    await done.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A TCP proxy to `target` whose connections the test can cut, to drop a client's broker connection. */
export async function cuttableProxy(
  target: URL,
): Promise<{ url: (scheme: string) => string; cut(): void; close(): Promise<void>; connections(): number }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const upstream = connect({ host: target.hostname, port: Number(target.port) });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (scheme) =>
      `${scheme}//${target.username ? `${target.username}:${target.password}@` : ''}127.0.0.1:${port}`,
    cut: () => {
      for (const s of sockets) s.destroy();
    },
    connections: () => connections,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Adds jobs through a proxy and cuts the connection twice meanwhile: every add that resolved must be
 * delivered; an add that rejected may or may not have been stored.
 */
export async function connectionDropTest(
  brokerUrl: string,
  name: string,
  cleanup?: (queue: JobQueue<unknown>) => Promise<void>,
) {
  const target = new URL(brokerUrl);
  const proxy = await cuttableProxy(target);
  const publisher = await openJobQueue<number>(name, { url: proxy.url(target.protocol) });
  const reader = await openJobQueue<number>(name, { url: brokerUrl });
  const confirmed = new Set<number>();
  let refused = 0;
  try {
    const adds: Promise<void>[] = [];
    for (let n = 0; n < 300; n++) {
      if (n === 100) proxy.cut();
      if (n === 200) {
        // The second cut comes after the client has reconnected, so that it cuts a live connection.
        for (let i = 0; i < 250 && proxy.connections() < 2; i++) await delay(20);
        proxy.cut();
      }
      adds.push(
        publisher.add(n).then(
          () => {
            confirmed.add(n);
          },
          (err: { code?: string }) => {
            assert.equal(err.code, 'WEIR_ERR_JOBS_UNAVAILABLE', String(err));
            refused++;
          },
        ),
      );
      await delay(2);
    }
    await Promise.all(adds);
    for (let i = 0; i < 250 && proxy.connections() < 3; i++) await delay(20);
    assert.ok(confirmed.size > 0);
    assert.ok(
      proxy.connections() >= 3,
      `the publisher reconnected after each cut (${proxy.connections()} connections)`,
    );
    const seen = new Set<number>();
    const consumer = reader.process(
      (job) => {
        seen.add(job.data);
      },
      { concurrency: 16 },
    );
    const deadline = Date.now() + 20_000;
    while ([...confirmed].some((n) => !seen.has(n))) {
      assert.ok(
        Date.now() < deadline,
        `confirmed jobs delivered (${confirmed.size} confirmed, ${refused} refused)`,
      );
      await delay(20);
    }
    await consumer.close();
  } finally {
    await cleanup?.(reader as JobQueue<unknown>).catch(() => undefined);
    await publisher.close().catch(() => undefined);
    await reader.close();
    await proxy.close();
  }
}

/**
 * A consumer whose connection is cut twice while it works: it reconnects by itself and every job is
 * still run (at least once).
 */
export async function consumerDropTest(
  brokerUrl: string,
  name: string,
  cleanup?: (queue: JobQueue<unknown>) => Promise<void>,
) {
  const target = new URL(brokerUrl);
  const proxy = await cuttableProxy(target);
  // A job the broker sent as the connection was cut never arrives; it comes back after the visibility
  // timeout, which must be well inside this test's deadline (the default, 30 s, was not).
  const visibilityTimeoutMs = 2000;
  const producer = await openJobQueue<number>(name, { url: brokerUrl, visibilityTimeoutMs });
  const worker = await openJobQueue<number>(name, { url: proxy.url(target.protocol), visibilityTimeoutMs });
  const seen = new Set<number>();
  try {
    await Promise.all(Array.from({ length: 300 }, (_, n) => producer.add(n)));
    const consumer = worker.process(
      async (job) => {
        await delay(2);
        seen.add(job.data);
      },
      { concurrency: 8 },
    );
    const deadline = Date.now() + 30_000;
    for (const at of [60, 160]) {
      while (seen.size < at) {
        assert.ok(Date.now() < deadline, `progress before the cut at ${at} (${seen.size})`);
        await delay(5);
      }
      proxy.cut();
    }
    while (seen.size < 300) {
      assert.ok(Date.now() < deadline, `every job ran after the cuts (${seen.size} of 300)`);
      await delay(20);
    }
    assert.ok(proxy.connections() >= 3, `the consumer reconnected (${proxy.connections()} connections)`);
    await consumer.close();
  } finally {
    await cleanup?.(producer as JobQueue<unknown>).catch(() => undefined);
    await worker.close().catch(() => undefined);
    await producer.close();
    await proxy.close();
  }
}

/**
 * The broker goes away under a running consumer and does not come back: adds reject with
 * `WEIR_ERR_JOBS_UNAVAILABLE`, and the consumer and the queue still close (an app can stop).
 */
export async function brokerAwayTest(
  brokerUrl: string,
  name: string,
  cleanup?: (queue: JobQueue<unknown>) => Promise<void>,
) {
  const target = new URL(brokerUrl);
  const proxy = await cuttableProxy(target);
  const queue = await openJobQueue<number>(name, { url: proxy.url(target.protocol) });
  const seen: number[] = [];
  const consumer = queue.process((job) => {
    seen.push(job.data);
  });
  try {
    await queue.add(1);
    for (let i = 0; i < 250 && seen.length === 0; i++) await delay(20);
    assert.deepEqual(seen, [1], 'the consumer ran a job before the broker went away');
    await proxy.close();
    // Twice: once on the connection that was cut, once while there is none.
    for (const n of [2, 3]) {
      await assert.rejects(within(queue.add(n), 20_000, `add(${n})`), { code: 'WEIR_ERR_JOBS_UNAVAILABLE' });
    }
    await within(consumer.close(), 20_000, 'consumer.close() with the broker away');
    await within(queue.close(), 20_000, 'queue.close() with the broker away');
  } finally {
    await within(queue.close(), 20_000, 'queue.close()').catch(() => undefined);
    const direct = await openJobQueue<number>(name, { url: brokerUrl });
    await cleanup?.(direct as JobQueue<unknown>).catch(() => undefined);
    await direct.close();
  }
}
