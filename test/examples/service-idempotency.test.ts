/**
 * The reference service's POST /jobs with an `Idempotency-Key`: the same key and body again answer the
 * same 202 and job id and add no second job; the same key with another body answers 422. Two processes
 * that keep their keys apart (memory: under workers) still add one job, through the queue's own key.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { ServerHandle } from 'weir';
import type { Database } from 'weir/db';
import { type JobQueue, openJobQueue, type SqliteJobQueue } from 'weir/queue';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import type { WelcomeJob } from '../../examples/service/jobs.ts';
import { request, serve } from '../helpers/http.ts';
import { uniqueNamespace } from '../helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-jobs-idem-'));
const handles: ServerHandle[] = [];
after(async () => {
  for (const handle of handles) await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

const post = (handle: ServerHandle, key: string, body: unknown) =>
  request(handle, {
    method: 'POST',
    path: '/jobs',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });

/** `count` instances of the service on one database and one SQLite queue, each with its own memory cache. */
async function instances(count: number) {
  const name = uniqueNamespace('svcidem').replaceAll('-', '_');
  const url = `sqlite:${join(dir, `${name}.db`)}`;
  const queues: JobQueue<WelcomeJob>[] = [];
  const dbs: Database[] = [];
  for (let i = 0; i < count; i++) {
    const db = await openServiceDatabase(`sqlite:${join(dir, `${name}-service.db`)}`);
    const queue = await openJobQueue<WelcomeJob>(name, { url });
    const handle = await serve(createServiceApp({ logger: false, db, queue }));
    handles.push(handle);
    queues.push(queue);
    dbs.push(db);
  }
  return { queue: queues[0] as SqliteJobQueue<WelcomeJob>, db: dbs[0]!, handles: handles.slice(-count) };
}

async function settled(db: Database, id: string): Promise<{ state: string; emails: number }> {
  for (let i = 0; i < 200; i++) {
    const row = await db.maybeOne<{ state: string }>`SELECT state FROM job_status WHERE id = ${id}`;
    if (row?.state === 'completed') {
      const { n } = await db.one<{
        n: number;
      }>`SELECT count(*) AS n FROM welcome_emails WHERE job_id = ${id}`;
      return { state: row.state, emails: n };
    }
    await delay(25);
  }
  assert.fail(`job ${id} did not complete`);
}

describe('reference service: POST /jobs with an Idempotency-Key', () => {
  it('answers the same 202 and job id again and adds no second job; another body is 422', async () => {
    const {
      handles: [handle],
      queue,
      db,
    } = await instances(1);
    const body = { to: 'ada@example.com', workMs: 0 };
    const first = await post(handle!, 'signup-ada-1', body);
    const again = await post(handle!, 'signup-ada-1', body);
    assert.equal(first.status, 202);
    assert.equal(again.status, 202);
    assert.equal(again.body, first.body);
    assert.equal(again.headers.location, first.headers.location);
    assert.equal(again.headers['idempotent-replayed'], 'true');
    const { id } = JSON.parse(first.body) as { id: string };
    const reused = await post(handle!, 'signup-ada-1', { to: 'eve@example.com', workMs: 0 });
    assert.equal(reused.status, 422);
    assert.equal(
      (JSON.parse(reused.body) as { error: { code: string } }).error.code,
      'WEIR_ERR_IDEMPOTENCY_KEY_REUSED',
    );
    assert.doesNotMatch(reused.body, /signup-ada-1/);
    assert.deepEqual(await settled(db, id), { state: 'completed', emails: 1 });
    const counts = await queue.counts();
    assert.equal(counts.completed + counts.waiting + counts.active, 1, JSON.stringify(counts));
    // Without a key, each POST is a new job.
    const plain = await request(handle!, {
      method: 'POST',
      path: '/jobs',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.notEqual((JSON.parse(plain.body) as { id: string }).id, id);
  });

  it('two instances that keep their keys apart still add one job: the queue takes the same key', async () => {
    const {
      handles: [a, b],
      queue,
      db,
    } = await instances(2);
    const body = { to: 'bob@example.com', workMs: 0 };
    const first = await post(a!, 'signup-bob', body);
    const other = await post(b!, 'signup-bob', body);
    assert.equal(first.status, 202);
    assert.equal(other.status, 202);
    assert.equal(other.headers['idempotent-replayed'], undefined, 'the other instance ran the route');
    assert.equal(other.body, first.body, 'and answered the same job id');
    const { id } = JSON.parse(first.body) as { id: string };
    assert.deepEqual(await settled(db, id), { state: 'completed', emails: 1 });
    const counts = await queue.counts();
    assert.equal(counts.completed + counts.waiting + counts.active, 1, JSON.stringify(counts));
  });
});
