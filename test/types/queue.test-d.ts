// Type-level tests of weir/queue: `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import { App } from 'weir';
import {
  type DeadJob,
  hasDeadLetters,
  hasJobStatus,
  type JobCounts,
  type JobInfo,
  type JobQueue,
  openJobQueue,
  type SqliteJobQueue,
} from 'weir/queue';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

interface Email {
  to: string;
}

export async function capabilities(url: string): Promise<void> {
  // A URL known only at run time gives the core: what every backend keeps.
  const queue = await openJobQueue<Email>('emails', { url });
  expectType<Equal<typeof queue, JobQueue<Email>>>(true);
  // @ts-expect-error: job status is a capability; check for it first
  await queue.get('id');
  // @ts-expect-error: counts come with job status
  await queue.counts();
  // @ts-expect-error: dead letters are a capability; check for them first
  await queue.dead();
  // @ts-expect-error: retryDead comes with dead letters
  await queue.retryDead();

  // The checks narrow, keeping the job's data type.
  if (hasJobStatus(queue)) {
    const job = await queue.get('id');
    expectType<Equal<typeof job, JobInfo<Email> | undefined>>(true);
    expectType<Equal<Awaited<ReturnType<typeof queue.counts>>, JobCounts>>(true);
    // @ts-expect-error: status says nothing of dead letters
    await queue.dead();
  }
  if (hasDeadLetters(queue)) {
    const dead = await queue.dead({ limit: 10 });
    expectType<Equal<typeof dead, DeadJob<Email>[]>>(true);
    expectType<Equal<Awaited<ReturnType<typeof queue.retryDead>>, number>>(true);
    // @ts-expect-error: dead letters say nothing of job status
    await queue.get('id');
  }
  // `capabilities` describes; it is the checks above that narrow.
  expectType<Equal<typeof queue.capabilities.status, boolean>>(true);

  // A literal sqlite: URL gives the SQLite queue, which has every capability without a check.
  const local = await openJobQueue<Email>('emails', { url: 'sqlite:./data/queue.db' });
  expectType<Equal<typeof local, SqliteJobQueue<Email>>>(true);
  const info = await local.get('id');
  expectType<Equal<typeof info, JobInfo<Email> | undefined>>(true);
  await local.counts();
  await local.retryDead();
  expectType<Equal<typeof local.capabilities.status, true>>(true);
  // A JobInfo is a DeadJob, so SQLite's dead() fits the capability's type.
  const asDead: DeadJob<Email>[] = await local.dead();
  void asDead;

  // Every queue is still what app.worker() takes.
  new App().worker(queue, (job) => job.data.to.length).worker(local, (job) => job.data.to);
  // @ts-expect-error: the handler sees the queue's data type
  new App().worker(queue, (job) => job.data.missing);
  // @ts-expect-error: add() takes the queue's data type
  await queue.add({ to: 1 });
  await queue.add({ to: 'a' }, { jobTimeoutMs: 60_000 });
  // @ts-expect-error: jobTimeoutMs is a number of milliseconds
  await queue.add({ to: 'a' }, { jobTimeoutMs: '5m' });

  // A request's ctx is add()'s options: its signal, deadline and request id come along.
  new App().post('/emails', (ctx) => queue.add({ to: 'a' }, ctx));
  await queue.add({ to: 'a' }, { requestId: 'req-1' });
  // @ts-expect-error: a request id is a string
  await queue.add({ to: 'a' }, { requestId: 42 });
  new App().worker(queue, (job) => expectType<Equal<typeof job.requestId, string | undefined>>(true));
  if (hasDeadLetters(queue)) {
    const [dead] = await queue.dead();
    expectType<Equal<NonNullable<typeof dead>['requestId'], string | undefined>>(true);
  }
  expectType<Equal<NonNullable<typeof info>['requestId'], string | undefined>>(true);
}
