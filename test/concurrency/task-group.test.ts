import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sleep, TaskGroup } from 'weir';

describe('TaskGroup', () => {
  it('waits for every child, including ones spawned while waiting', async () => {
    const done: string[] = [];
    await TaskGroup.run(async (group) => {
      group.spawn(async () => {
        await sleep(10);
        done.push('a');
        group.spawn(async () => {
          await sleep(5);
          done.push('c');
        });
      });
      group.spawn(async () => {
        done.push('b');
      });
    });
    assert.deepEqual(done, ['b', 'a', 'c']);
  });

  it('gives children’s values through spawn()', async () => {
    const values = await TaskGroup.run(async (group) => {
      const a = group.spawn(async () => 1);
      const b = group.spawn(() => 'two');
      return [await a, await b];
    });
    assert.deepEqual(values, [1, 'two']);
  });

  it('cancels siblings on the first failure and rethrows it after they end', async () => {
    const boom = new Error('boom');
    const log: string[] = [];
    await assert.rejects(
      TaskGroup.run(async (group) => {
        group.spawn(async (signal) => {
          try {
            await sleep(10_000, { signal });
          } finally {
            log.push('sibling ended');
          }
        });
        group.spawn(async () => {
          await sleep(5);
          throw boom;
        });
      }),
      (err) => err === boom,
    );
    assert.deepEqual(log, ['sibling ended']);
  });

  it('throws an AggregateError when several children fail', async () => {
    await assert.rejects(
      TaskGroup.run(async (group) => {
        group.spawn(async () => {
          throw new Error('one');
        });
        group.spawn(async () => {
          throw new Error('two');
        });
      }),
      (err: AggregateError) => err instanceof AggregateError && err.errors.length === 2,
    );
  });

  it('works with await using, and refuses spawns after it is left', async () => {
    let group!: TaskGroup;
    let finished = false;
    {
      await using g = new TaskGroup();
      group = g;
      g.spawn(async () => {
        await sleep(5);
        finished = true;
      });
    }
    assert.equal(finished, true);
    assert.throws(() => group.spawn(() => 1), { code: 'WEIR_ERR_TASKGROUP_CLOSED' });
  });

  it('is cancelled by an outer signal: children abort, wait() rejects with the reason', async () => {
    const controller = new AbortController();
    const group = new TaskGroup({ signal: controller.signal });
    let childAborted = false;
    group.spawn((signal) =>
      sleep(10_000, { signal }).catch((e: unknown) => {
        childAborted = true;
        throw e;
      }),
    );
    controller.abort('shutdown');
    await assert.rejects(group.wait(), (err) => err === 'shutdown');
    assert.equal(childAborted, true);
  });

  it('an error in the body cancels the children and is rethrown', async () => {
    let childAborted = false;
    await assert.rejects(
      TaskGroup.run(async (group) => {
        group.spawn((signal) =>
          sleep(10_000, { signal }).catch((e: unknown) => {
            childAborted = true;
            throw e;
          }),
        );
        throw new Error('body failed');
      }),
      /body failed/,
    );
    assert.equal(childAborted, true);
  });
});
