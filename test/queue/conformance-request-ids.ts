/**
 * The conformance cases of request ids: a job added with the id of the request that added it carries it
 * to its handler, through its retries, into the dead letters and back, and into the queue's log lines
 * about it; a malformed id is refused before anything is stored.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { hasDeadLetters, hasJobStatus } from 'weir/queue';
import { type SuiteContext, until } from './suite.ts';

/** Every character the rule allows, as a proxy or a load balancer may send them. */
const REQUEST_ID = 'req-9f86d081884c7d65_1.a:b/c+d=e@f';

/** A logger that keeps every line, with its level. */
function recordingLogger() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string | undefined }[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) => {
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  };
  return { lines, logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } };
}

export function requestIdCases(suite: SuiteContext): void {
  const { open } = suite;

  test('requestId: the handler sees it on every attempt, dead() and get() show it, and a re-queued job keeps it', async () => {
    const queue = await open<string>();
    const traced = await queue.add('traced', {
      requestId: REQUEST_ID,
      attempts: 2,
      backoff: { type: 'fixed', delayMs: 10 },
    });
    const plain = await queue.add('plain', { attempts: 1 });
    let healthy = false;
    const seen: string[] = [];
    const consumer = queue.process((job) => {
      seen.push(`${job.data}#${job.attempt} ${job.requestId}`);
      if (!healthy) throw new Error('down');
    });
    await until(() => seen.length === 3, 5000, 'three attempts');
    assert.deepEqual(seen.sort(), ['plain#1 undefined', `traced#1 ${REQUEST_ID}`, `traced#2 ${REQUEST_ID}`]);
    if (hasDeadLetters(queue)) {
      await until(async () => (await queue.dead()).length === 2, 5000, 'both dead');
      const dead = new Map((await queue.dead()).map((job) => [job.id, job.requestId]));
      assert.deepEqual(
        dead,
        new Map([
          [traced.id, REQUEST_ID],
          [plain.id, undefined],
        ]),
      );
      if (hasJobStatus(queue)) {
        assert.equal((await queue.get(traced.id))?.requestId, REQUEST_ID);
        assert.equal((await queue.get(plain.id))?.requestId, undefined);
      }
      healthy = true;
      assert.equal(await queue.retryDead(traced.id), 1);
      await until(() => seen.length === 4, 5000, 'ran again');
      assert.equal(seen[3], `traced#1 ${REQUEST_ID}`);
      if (hasJobStatus(queue)) {
        await until(async () => (await queue.get(traced.id))?.state === 'completed', 5000, 'completed');
        assert.equal((await queue.get(traced.id))?.requestId, REQUEST_ID);
      }
    }
    await consumer.close();
  });

  test('requestId: a delayed job and one added with an idempotencyKey carry theirs', async () => {
    const queue = await open<string>();
    await queue.add('later', { requestId: 'req-later', delay: 50 });
    const first = await queue.add('keyed', { requestId: 'req-first', idempotencyKey: 'k-1' });
    const again = await queue.add('keyed again', { requestId: 'req-second', idempotencyKey: 'k-1' });
    assert.deepEqual(again, { id: first.id, duplicate: true });
    const seen: string[] = [];
    const consumer = queue.process((job) => {
      seen.push(`${job.data} ${job.requestId}`);
    });
    await until(() => seen.length === 2, 5000, 'both ran');
    await delay(100);
    await consumer.close();
    assert.deepEqual(seen.sort(), ['keyed req-first', 'later req-later']);
  });

  test('requestId: a malformed one is refused at add with WEIR_ERR_INVALID_OPTION, before anything is stored', async () => {
    const queue = await open<string>();
    const hostile: unknown[] = [
      '',
      'x'.repeat(129),
      'x'.repeat(1_000_000),
      'a b',
      'a\r\nb',
      'a\nX-Injected: 1',
      'é',
      '😀',
      '<script>',
      'a"b',
      42,
      null,
      { id: 'x' },
      ['x'],
    ];
    for (const requestId of hostile) {
      await assert.rejects(
        queue.add('refused', { requestId: requestId as string }),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'WEIR_ERR_INVALID_OPTION');
          assert.match(err.message, /requestId/);
          assert.ok(err.message.length < 400, 'the message does not echo a huge id');
          assert.doesNotMatch(err.message, /\r|\n/);
          return true;
        },
        JSON.stringify(requestId)?.slice(0, 40),
      );
    }
    await queue.add('longest', { requestId: 'x'.repeat(128) });
    await queue.add('none', { requestId: undefined });
    const seen: string[] = [];
    const consumer = queue.process((job) => {
      seen.push(`${job.data} ${job.requestId?.length}`);
    });
    await until(() => seen.length === 2, 5000, 'the two accepted jobs ran');
    await delay(100);
    await consumer.close();
    assert.deepEqual(seen.sort(), ['longest 128', 'none undefined'], 'no refused add stored a job');
  });

  test("requestId: the queue's log lines about a job carry it: a failed attempt, its death, a handler ignoring its timeout", async () => {
    const { lines, logger } = recordingLogger();
    const queue = await open<string>({ logger, jobTimeoutMs: 60_000 });
    const traced = await queue.add('fails', {
      requestId: REQUEST_ID,
      attempts: 2,
      backoff: { type: 'fixed', delayMs: 10 },
    });
    const plain = await queue.add('fails too', { attempts: 1 });
    const hung = await queue.add('hangs', { requestId: 'req-hung', jobTimeoutMs: 50, attempts: 1 });
    let release!: () => void;
    const consumer = queue.process(
      (job) => {
        if (job.data === 'hangs') return new Promise<void>((resolve) => (release = resolve));
        throw new Error(`${job.data}: smtp down`);
      },
      { concurrency: 3 },
    );
    const about = (id: string) => lines.filter((line) => line.obj.job === id);
    await until(() => about(traced.id).length === 2 && about(plain.id).length === 1, 5000, 'failures logged');
    await until(() => about(hung.id).length === 2, 5000, 'the timeout and the ignored signal logged');
    release();
    await consumer.close();

    const [failed, died] = about(traced.id);
    assert.equal(failed?.level, 'warn');
    assert.match(failed?.msg ?? '', /attempt failed/);
    assert.deepEqual(
      { ...failed?.obj, err: undefined, retryInMs: undefined },
      {
        queue: queue.name,
        job: traced.id,
        requestId: REQUEST_ID,
        attempt: 1,
        maxAttempts: 2,
        retryInMs: undefined,
        err: undefined,
      },
    );
    assert.equal((failed?.obj.err as Error | undefined)?.message, 'fails: smtp down');
    assert.equal(died?.level, 'error');
    assert.match(died?.msg ?? '', /dead-lettered/);
    assert.equal(died?.obj.requestId, REQUEST_ID);
    assert.equal(died?.obj.attempt, 2);

    const [plainDied] = about(plain.id);
    assert.equal(plainDied?.level, 'error');
    assert.ok(!('requestId' in (plainDied?.obj ?? {})), 'a job without one logs no requestId field');

    const hungLines = about(hung.id);
    assert.deepEqual(hungLines.map((line) => line.level).sort(), ['error', 'warn']);
    for (const line of hungLines) assert.equal(line.obj.requestId, 'req-hung', line.msg);
    assert.ok(hungLines.some((line) => /ignored its abort signal/.test(line.msg ?? '')));
  });
}
