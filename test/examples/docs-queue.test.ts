/**
 * docs/queue.md: each example behaves as the guide says on SQLite, in a temporary folder; the emails and
 * webhooks examples run on RabbitMQ and NATS JetStream too (unless the broker is absent, which
 * WEIR_REQUIRE_SERVICES=1 turns into a failure), and the emails example with its broker gone.
 *
 * The examples name their queues as an app would ('emails', 'webhooks'), so runs of this file on one
 * machine take turns on the brokers (a lock file), and each run deletes the queues and streams it made.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { hasJobStatus, openJobQueue } from 'weir/queue';
import { inject } from 'weir/testing';
import type * as EmailsExample from '../../examples/docs/queue/emails.ts';
import type * as InvoicesExample from '../../examples/docs/queue/invoices.ts';
import type * as ReportsExample from '../../examples/docs/queue/reports.ts';
import type * as WebhooksExample from '../../examples/docs/queue/webhooks.ts';
import { AMQP_URL, amqpSkip, NATS_URL, natsSkip } from '../helpers/services.ts';
import { within } from '../helpers/time.ts';
import { cuttableProxy } from '../queue/crash.ts';
import { until } from '../queue/suite.ts';

type Emails = typeof EmailsExample;
type Invoices = typeof InvoicesExample;
type Reports = typeof ReportsExample;
type Webhooks = typeof WebhooksExample;
type ErrorBody = { error: { code: string; message: string } };

/** Probed first: with WEIR_REQUIRE_SERVICES=1, a broker that is absent fails the file. */
const brokers = [
  { name: 'RabbitMQ', url: AMQP_URL, skip: await amqpSkip(), priority: true },
  { name: 'NATS JetStream', url: NATS_URL, skip: await natsSkip(), priority: false },
];

const dir = mkdtempSync(join(tmpdir(), 'weir-docs-queue-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Imports an example with `env` set: a fresh instance per `instance` name. */
async function load<M>(name: string, instance: string, env: Record<string, string>): Promise<M> {
  Object.assign(process.env, env);
  try {
    return (await import(
      new URL(`../../examples/docs/queue/${name}.ts?${instance}`, import.meta.url).href
    )) as M;
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
  }
}

/** The example's queue on a broker: its close() first deletes the queues or streams it made there. */
function removedOnClose(queue: object): void {
  const broker = queue as unknown as { destroy(): Promise<void>; close(): Promise<void> };
  const close = broker.close.bind(broker);
  broker.close = async () => {
    await broker.destroy().catch(() => undefined);
    await close();
  };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits for this machine's turn on the brokers; resolves with the function that ends it. */
async function brokerTurn(): Promise<() => void> {
  const path = join(tmpdir(), 'weir-docs-queue-brokers.lock');
  const start = Date.now();
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(path, 'utf8'));
    } catch {
      continue; // released meanwhile
    }
    if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
      rmSync(path, { force: true }); // its run ended without releasing it
      continue;
    }
    if (Date.now() - start > 300_000) assert.fail(`${path} was held by process ${holder} for 5 minutes`);
    await delay(250);
  }
}

const post = (app: Emails['app'], url: string, body: unknown) =>
  inject(app, {
    method: 'POST',
    url,
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });

async function emailsBehave({ app, emails, outbox }: Emails): Promise<void> {
  const first = await post(app, '/signups', { email: 'ada@example.com' });
  assert.equal(first.status, 202);
  const { id, duplicate } = first.json<{ id: string; duplicate: boolean }>();
  assert.equal(duplicate, false);
  const again = await post(app, '/signups', { email: 'ada@example.com' });
  assert.deepEqual(again.json(), { id, duplicate: true }, 'the same key adds nothing');
  for (const body of [null, [], { email: 5 }, { email: 'nope' }, { email: 'a@b\r\nBcc: x@y' }]) {
    const res = await post(app, '/signups', body);
    assert.equal(res.status, 400, JSON.stringify(body));
  }
  assert.equal((await post(app, '/signups', { email: `${'a'.repeat(250)}@b.co` })).status, 400);
  const reminder = await post(app, '/reminders', { email: 'lin@example.com' });
  assert.equal(reminder.status, 202);
  const reminderId = reminder.json<{ id: string }>().id;

  await app.startWorkers();
  await until(() => outbox.length === 1, 10_000, 'the welcome email sent');
  assert.deepEqual(outbox, [{ to: 'ada@example.com', template: 'welcome' }]);
  if (hasJobStatus(emails)) {
    // The job is marked completed once its handler has returned: a moment after the e-mail is in the outbox.
    await until(async () => (await emails.get(id))?.state === 'completed', 5000, 'the job completed');
    const later = await emails.get(reminderId);
    assert.equal(later?.state, 'waiting');
    assert.ok(later!.runAt.getTime() - later!.createdAt.getTime() >= 3_600_000, 'due in an hour');
  } else {
    await delay(300);
    assert.equal(outbox.length, 1, 'the reminder waits for its hour');
  }
}

type Capabilities = { status: boolean; deadLetters: boolean; priority: boolean };

async function webhooksBehave({ app, webhooks, receivers }: Webhooks, expected: Capabilities) {
  const about = await inject(app, { url: '/admin/queue' });
  assert.deepEqual(about.json(), { backend: webhooks.backend, capabilities: expected });
  receivers.down.add('https://b.example/hook');
  const ok = await webhooks.add({ endpoint: 'https://a.example/hook', event: 'paid' });
  const down = await webhooks.add({ endpoint: 'https://b.example/hook', event: 'paid' });
  await app.startWorkers();
  const deadList = async () => (await inject(app, { url: '/admin/dead' })).json<Record<string, unknown>[]>();
  await until(async () => (await deadList()).length === 1, 15_000, 'the failing delivery dead');
  assert.deepEqual(receivers.received, [{ endpoint: 'https://a.example/hook', event: 'paid' }]);
  const [dead] = await deadList();
  assert.equal(dead!.id, down.id);
  assert.deepEqual(dead!.data, { endpoint: 'https://b.example/hook', event: 'paid' });
  assert.equal(dead!.attempts, 3);
  assert.equal(dead!.maxAttempts, 3);
  assert.equal(dead!.lastError, 'https://b.example/hook answered 503');
  assert.equal(typeof dead!.finishedAt, 'string');

  const status = (id: string) => inject(app, { url: `/admin/jobs/${id}` });
  if (expected.status) {
    assert.equal((await status(ok.id)).json<{ state: string }>().state, 'completed');
    assert.equal((await status(down.id)).json<{ state: string }>().state, 'dead');
    assert.equal((await status('no-such-job')).status, 404);
    assert.deepEqual((await inject(app, { url: '/admin/counts' })).json(), {
      waiting: 0,
      active: 0,
      failed: 0,
      completed: 1,
      dead: 1,
    });
  } else {
    for (const res of [await status(ok.id), await inject(app, { url: '/admin/counts' })]) {
      assert.equal(res.status, 501);
      assert.equal(res.json<ErrorBody>().error.code, 'NO_JOB_STATUS');
    }
  }

  for (const id of ['%0d%0a', 'x'.repeat(101), 'a.b']) {
    const res = await inject(app, { method: 'POST', url: `/admin/dead/retry?id=${id}` });
    assert.equal(res.status, 400, id);
  }
  receivers.down.clear();
  const retried = await inject(app, { method: 'POST', url: `/admin/dead/retry?id=${down.id}` });
  assert.deepEqual(retried.json(), { requeued: 1 });
  await until(() => receivers.received.length === 2, 10_000, 'the re-queued delivery made');
  assert.deepEqual(await deadList(), []);
  assert.deepEqual((await inject(app, { method: 'POST', url: '/admin/dead/retry' })).json(), { requeued: 0 });
}

describe('docs/queue.md on SQLite', () => {
  const sqlite = (name: string) => ({ QUEUE_URL: `sqlite:${join(dir, `${name}.db`)}` });

  it('emails: add() answers 202 with the id, an idempotency key adds once, a delayed job waits, the worker sends', async () => {
    const example = await load<Emails>('emails', 'sqlite', sqlite('emails'));
    try {
      await emailsBehave(example);
    } finally {
      await example.app.stop();
    }
  });

  it('invoices: a failing attempt is retried after its backoff; a second run writes nothing new; a hung attempt times out', async () => {
    const example = await load<Invoices>('invoices', 'sqlite', {
      ...sqlite('invoices'),
      DATABASE_URL: `sqlite:${join(dir, 'invoices-data.db')}`,
    });
    const { app, db, invoices, pdfService, renderInvoice } = example;
    assert.ok(hasJobStatus(invoices));
    try {
      pdfService.failures = 2;
      const { id } = await invoices.add({ orderId: 'A-1' });
      await app.startWorkers();
      await until(async () => (await invoices.get(id))?.state === 'completed', 10_000, 'invoice A-1');
      const done = await invoices.get(id);
      assert.equal(done?.attempts, 3);
      assert.deepEqual(done?.result, { orderId: 'A-1', attempt: 3 });

      // A redelivery, even alongside the first run, writes the invoice once.
      const job = {
        id: 'B',
        queue: 'invoices',
        data: { orderId: 'B-2' },
        attempt: 1,
        maxAttempts: 4,
        createdAt: new Date(),
        requestId: undefined,
      };
      const signal = new AbortController().signal;
      await Promise.all([renderInvoice(job, { signal }), renderInvoice(job, { signal })]);
      await renderInvoice(job, { signal });
      const rows = await db.query<{ order_id: string }>`SELECT order_id FROM invoice ORDER BY order_id`;
      assert.deepEqual(
        rows.map((r) => r.order_id),
        ['A-1', 'B-2'],
      );

      // Every attempt of this job hangs past its own jobTimeoutMs: its signal aborts, and it ends dead.
      pdfService.latencyMs = 60_000;
      const hung = await invoices.add({ orderId: 'C-3' }, { jobTimeoutMs: 100, attempts: 2 });
      await until(async () => (await invoices.get(hung.id))?.state === 'dead', 10_000, 'C-3 dead');
      const dead = await invoices.get(hung.id);
      assert.equal(dead?.attempts, 2);
      assert.match(dead?.lastError ?? '', /ran past its jobTimeoutMs \(100 ms\)/);
      assert.equal(await db.maybeOne`SELECT 1 FROM invoice WHERE order_id = ${'C-3'}`, undefined);
    } finally {
      await app.stop();
    }
  });

  it('webhooks: a job that fails every attempt is dead with its last error; status and counts; retryDead() puts it back', async () => {
    const example = await load<Webhooks>('webhooks', 'sqlite', sqlite('webhooks'));
    try {
      await webhooksBehave(example, { status: true, deadLetters: true, priority: true });
    } finally {
      await example.app.stop();
    }
  });

  it('reports: at stop, a running job that finishes in time completes; one that does not is given back, its attempt uncounted', async () => {
    const file = join(dir, 'reports.db');
    const { app, reports, built } = await load<Reports>('reports', 'sqlite', { QUEUE_URL: `sqlite:${file}` });
    assert.ok(hasJobStatus(reports));
    const short = await reports.add({ pages: 10 });
    const long = await reports.add({ pages: 1000 });
    await app.startWorkers();
    await until(async () => (await reports.counts()).active === 2, 10_000, 'both reports running');
    await within(app.stop(), 15_000, 'app.stop()');
    assert.deepEqual(built, [10]);
    const reopened = await openJobQueue<{ pages: number }>('reports', { url: `sqlite:${file}` });
    try {
      assert.equal((await reopened.get(short.id))?.state, 'completed');
      const givenBack = await reopened.get(long.id);
      assert.equal(givenBack?.state, 'waiting');
      assert.equal(givenBack?.attempts, 0);
    } finally {
      await reopened.close();
    }
  });
});

describe('docs/queue.md on the brokers', { skip: brokers.every((b) => b.skip) && 'no broker' }, () => {
  let endTurn = (): void => {};
  before(async () => {
    endTurn = await brokerTurn();
  });
  after(() => endTurn());

  for (const broker of brokers) {
    const env = { QUEUE_URL: broker.url };
    const instance = broker.name.replace(/\W/g, '');

    it(`emails on ${broker.name}: the same code behaves the same`, { skip: broker.skip }, async () => {
      const example = await load<Emails>('emails', instance, env);
      removedOnClose(example.emails);
      try {
        await emailsBehave(example);
      } finally {
        await example.app.stop();
      }
    });

    it(`webhooks on ${broker.name}: dead letters and retryDead(); no job status (501)`, {
      skip: broker.skip,
    }, async () => {
      const example = await load<Webhooks>('webhooks', instance, env);
      removedOnClose(example.webhooks);
      try {
        await webhooksBehave(example, { status: false, deadLetters: true, priority: broker.priority });
      } finally {
        await example.app.stop();
      }
    });

    it(`emails on ${broker.name}: with the broker gone, add() is 503 WEIR_ERR_JOBS_UNAVAILABLE naming no host, and the app still stops`, {
      skip: broker.skip,
    }, async () => {
      const target = new URL(broker.url);
      const proxy = await cuttableProxy(target);
      const { app } = await load<Emails>('emails', `${instance}-away`, {
        QUEUE_URL: proxy.url(target.protocol),
      });
      try {
        await app.startWorkers();
        await proxy.close();
        const res = await within(post(app, '/signups', { email: 'ada@example.com' }), 15_000, 'add()');
        assert.equal(res.status, 503);
        assert.equal(res.headers['retry-after'], '5');
        assert.equal(res.json<ErrorBody>().error.code, 'WEIR_ERR_JOBS_UNAVAILABLE');
        assert.doesNotMatch(res.body, /127\.0\.0\.1|amqp:|nats:|guest/);
        await within(app.stop(), 20_000, 'app.stop() with the broker gone');
      } finally {
        await proxy.close().catch(() => undefined);
        const direct = await openJobQueue('emails', { url: broker.url });
        removedOnClose(direct);
        await direct.close();
      }
    });

    it(`emails on ${broker.name}: a broker that does not answer fails the start, in one line`, {
      skip: broker.skip,
    }, async () => {
      const nowhere = `${new URL(broker.url).protocol}//weir:secret@127.0.0.1:1`;
      await assert.rejects(
        load<Emails>('emails', `${instance}-nowhere`, { QUEUE_URL: nowhere }),
        (err: Error) => {
          assert.equal((err as { code?: string }).code, 'WEIR_ERR_JOBS_UNAVAILABLE');
          assert.doesNotMatch(err.message, /secret|\n/);
          return true;
        },
      );
    });
  }
});
