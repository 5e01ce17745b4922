import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { openJobQueue } from 'weir/queue';
import { NATS_URL, natsSkip, uniqueNamespace } from '../helpers/services.ts';
import { natsBacklog } from './brokers.ts';
import { runQueueSuite } from './conformance.ts';
import { connectionDropTest, consumerDropTest, crashTest } from './crash.ts';

const skip = await natsSkip();

/** Deletes the queue's streams on the server. */
async function destroy(queue: unknown): Promise<void> {
  await (queue as { destroy(): Promise<void> }).destroy();
}

runQueueSuite(
  'nats',
  {
    open: (name, options) => openJobQueue(name, { url: NATS_URL, ...options }),
    cleanup: destroy,
  },
  { skip },
);

describe('NATS job queue specifics', { skip }, () => {
  test('an unreachable server fails the open with one line, password masked', async () => {
    await assert.rejects(
      openJobQueue('q', { url: 'nats://weir:hunter2@127.0.0.1:1' }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'WEIR_ERR_JOBS_UNAVAILABLE');
        assert.doesNotMatch(err.message, /hunter2/);
        return true;
      },
    );
  });

  test('crash test: 1,000 jobs, the worker is killed with SIGKILL midway, a new one finishes: none lost', async () => {
    await crashTest(NATS_URL, uniqueNamespace('natscrash').replaceAll('-', '_'), destroy, (name) =>
      natsBacklog(`WEIR_${name}`),
    );
  });

  test('a publisher whose connection is cut loses no confirmed job', async () => {
    await connectionDropTest(NATS_URL, uniqueNamespace('natsdrop').replaceAll('-', '_'), destroy);
  });

  test('a consumer whose connection is cut reconnects and runs every job', async () => {
    await consumerDropTest(NATS_URL, uniqueNamespace('natscdrop').replaceAll('-', '_'), destroy);
  });
});
