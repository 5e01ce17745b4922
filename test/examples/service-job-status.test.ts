/**
 * The reference service's job_status table, on SQLite and on PostgreSQL: each transition, and that every
 * write stays right when a job is delivered again, or twice at once (at-least-once).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Database } from 'weir/db';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { type JobRun, JobStatusTable } from '../../examples/service/job-status.ts';
import { freshPostgresDatabase, postgresSkip } from '../helpers/services.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-job-status-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A clock the test moves by hand. */
function clock(start = Date.parse('2030-01-01T00:00:00Z')) {
  let now = start;
  return { now: () => new Date(now), advance: (ms: number) => (now += ms) };
}

let counter = 0;
/** A fresh job id (a UUID, as the service makes them). */
function jobId(): string {
  counter++;
  return `00000000-0000-4000-8000-${counter.toString(16).padStart(12, '0')}`;
}

const run = (id: string, attempt: number, maxAttempts = 3): JobRun => ({
  id,
  attempt,
  maxAttempts,
  createdAt: new Date('2030-01-01T00:00:00Z'),
});

function suite(
  engine: string,
  open: () => Promise<Database>,
  cleanup: () => Promise<void>,
  skip: string | false,
) {
  describe(`job_status on ${engine}`, { skip }, () => {
    let db: Database;
    const time = clock();
    let table: JobStatusTable;
    before(async () => {
      db = await open();
      table = new JobStatusTable(db, time.now);
    });
    after(async () => {
      await db?.close();
      await cleanup();
    });

    it('follows a job from queued through a failed attempt to completed, with its result and timestamps', async () => {
      const id = jobId();
      await table.queued(id, 3);
      assert.deepEqual(await table.get(id), {
        id,
        state: 'queued',
        attempts: 0,
        maxAttempts: 3,
        createdAt: '2030-01-01T00:00:00.000Z',
        updatedAt: '2030-01-01T00:00:00.000Z',
        finishedAt: null,
        lastError: null,
        result: null,
      });
      time.advance(1000);
      await table.running(run(id, 1));
      assert.equal((await table.get(id))?.state, 'running');
      await table.failed(run(id, 1), 'The attempt failed');
      assert.deepEqual(
        { ...(await table.get(id)), createdAt: undefined },
        {
          id,
          state: 'failed',
          attempts: 1,
          maxAttempts: 3,
          createdAt: undefined,
          updatedAt: '2030-01-01T00:00:01.000Z',
          finishedAt: null,
          lastError: 'The attempt failed',
          result: null,
        },
      );
      time.advance(1000);
      await table.running(run(id, 2));
      await table.completed(run(id, 2), { sentTo: 'ada@example.com', n: [1, 'two'] });
      const done = await table.get(id);
      assert.equal(done?.state, 'completed');
      assert.equal(done?.attempts, 2);
      assert.deepEqual(done?.result, { sentTo: 'ada@example.com', n: [1, 'two'] });
      assert.equal(done?.finishedAt, '2030-01-01T00:00:02.000Z');
      assert.equal(done?.createdAt, '2030-01-01T00:00:00.000Z');
    });

    it('the last attempt failing makes it dead; re-queued (attempt 1 again), it runs and completes', async () => {
      const id = jobId();
      await table.queued(id, 2);
      await table.running(run(id, 1, 2));
      await table.failed(run(id, 1, 2), 'The attempt failed');
      await table.running(run(id, 2, 2));
      await table.failed(run(id, 2, 2), 'The attempt ran past its time limit');
      const dead = await table.get(id);
      assert.equal(dead?.state, 'dead');
      assert.equal(dead?.attempts, 2);
      assert.equal(dead?.lastError, 'The attempt ran past its time limit');
      assert.ok(dead?.finishedAt);
      await table.running(run(id, 1, 2));
      assert.deepEqual([(await table.get(id))?.state, (await table.get(id))?.attempts], ['running', 1]);
      await table.completed(run(id, 1, 2), null);
      assert.equal((await table.get(id))?.state, 'completed');
    });

    it('redelivery: a completed job run again stays completed; a stale attempt cannot undo a newer one', async () => {
      const id = jobId();
      await table.queued(id, 3);
      await table.running(run(id, 1));
      // The lease of attempt 1 ran out while it still ran: attempt 2 starts elsewhere.
      await table.running(run(id, 2));
      await table.failed(run(id, 1), 'The attempt failed');
      assert.deepEqual([(await table.get(id))?.state, (await table.get(id))?.attempts], ['running', 2]);
      await table.completed(run(id, 2), { first: true });
      // Delivered again after it completed (its ack was lost): it runs, and changes nothing.
      await table.running(run(id, 3));
      await table.failed(run(id, 3), 'The attempt failed');
      await table.completed(run(id, 3), { first: false });
      const done = await table.get(id);
      assert.deepEqual([done?.state, done?.attempts, done?.lastError], ['completed', 2, null]);
      assert.deepEqual(done?.result, { first: true });
    });

    it('a job added by another producer gets its row when it starts; a job given back at shutdown is queued again, its attempt uncounted', async () => {
      const id = jobId();
      assert.equal(await table.get(id), undefined);
      await table.running(run(id, 1));
      assert.deepEqual([(await table.get(id))?.state, (await table.get(id))?.attempts], ['running', 1]);
      await table.givenBack(run(id, 1));
      assert.deepEqual([(await table.get(id))?.state, (await table.get(id))?.attempts], ['queued', 1]);
      await table.running(run(id, 1));
      await table.completed(run(id, 1), 'ok');
      assert.deepEqual([(await table.get(id))?.state, (await table.get(id))?.attempts], ['completed', 1]);
    });

    it('forget() removes a job the queue refused, but not one a worker already started', async () => {
      const refused = jobId();
      await table.queued(refused, 3);
      await table.forget(refused);
      assert.equal(await table.get(refused), undefined);
      const started = jobId();
      await table.queued(started, 3);
      await table.running(run(started, 1));
      await table.forget(started);
      assert.equal((await table.get(started))?.state, 'running');
    });

    it('purge() deletes ended jobs older than the cut-off, and keeps the rest', async () => {
      const later = clock(Date.parse('2031-01-01T00:00:00Z'));
      const table2 = new JobStatusTable(db, later.now);
      const [old, oldDead, running, recent] = [jobId(), jobId(), jobId(), jobId()];
      for (const id of [old, oldDead, running, recent]) await table2.queued(id, 1);
      await table2.completed(run(old, 1, 1), null);
      await table2.failed(run(oldDead, 1, 1), 'The attempt failed');
      await table2.running(run(running, 1, 1));
      later.advance(10_000);
      await table2.completed(run(recent, 1, 1), null);
      const rows = async () => (await db.one<{ n: number }>`SELECT count(*) AS n FROM job_status`).n;
      const before = await rows();
      // The earlier cases' jobs ended in 2030: they go too.
      const purged = await table2.purge(new Date(Date.parse('2031-01-01T00:00:05Z')));
      assert.ok(purged >= 2);
      assert.equal(await rows(), before - purged);
      assert.equal(await table2.get(old), undefined);
      assert.equal(await table2.get(oldDead), undefined);
      assert.equal((await table2.get(running))?.state, 'running');
      assert.equal((await table2.get(recent))?.state, 'completed');
    });

    it('the table refuses a state outside its set', async () => {
      await assert.rejects(
        db.exec`INSERT INTO job_status (id, state, attempts, max_attempts, created_at, updated_at)
                VALUES (${jobId()}, 'lost', 0, 1, ${new Date()}, ${new Date()})`,
      );
    });
  });
}

suite(
  'SQLite',
  () => openServiceDatabase(`sqlite:${join(dir, 'status.db')}`),
  async () => undefined,
  false,
);

const pgSkip = await postgresSkip();
let pg: { url: string; drop: () => Promise<void> } | undefined;
suite(
  'PostgreSQL',
  async () => {
    pg = await freshPostgresDatabase('jobstatus');
    return openServiceDatabase(pg.url);
  },
  async () => {
    await pg?.drop();
  },
  pgSkip,
);
