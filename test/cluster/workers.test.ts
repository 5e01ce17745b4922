import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, it } from 'node:test';
import { webConcurrency, workerCount } from 'weir/cluster';
import { run } from '../../src/cli/main.ts';

describe('workerCount', () => {
  it('reads a whole number, "auto" as one per CPU, and unset or empty as single-process', () => {
    assert.equal(workerCount('3'), 3);
    assert.equal(workerCount(' 2 '), 2);
    assert.equal(workerCount('auto'), availableParallelism());
    assert.equal(workerCount(undefined), undefined);
    assert.equal(workerCount(''), undefined);
  });

  it('reads WEB_CONCURRENCY=1 as one process with no primary, 2 and more as workers', () => {
    assert.equal(webConcurrency('1'), undefined);
    assert.equal(webConcurrency(undefined), undefined);
    assert.equal(webConcurrency('2'), 2);
    assert.throws(() => webConcurrency('x'), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  it('throws WEIR_ERR_INVALID_OPTION naming the source and the value for anything else', () => {
    for (const bad of ['0', '-1', '1.5', 'two', '5000']) {
      assert.throws(
        () => workerCount(bad, '--workers'),
        (err: Error & { code?: string }) =>
          err.code === 'WEIR_ERR_INVALID_OPTION' &&
          err.message.startsWith('--workers must be') &&
          err.message.includes(bad),
      );
    }
  });

  it('weir serve --workers with a bad count, or a bad --scheduling, fails in one line with exit code 2', async () => {
    for (const argv of [
      ['serve', 'app.ts', '--workers', 'many'],
      ['serve', 'app.ts', '--workers', '2', '--scheduling', 'random'],
      ['serve', 'app.ts', '--workers', '2', '--drain-timeout', 'soon'],
      // Control characters are shown escaped: the line stays one line and cannot drive a terminal.
      ['serve', 'app.ts', '--workers', '2', '--scheduling', 'rr\nweir: forged\u001b[2J'],
      ['serve', 'app.ts', '--workers', '2', '--drain-timeout', '1\r\n\u001b[31m'],
      ['reload'],
    ]) {
      const err: string[] = [];
      assert.equal(await run(argv, { out: () => undefined, err: (l) => err.push(l) }), 2, argv.join(' '));
      assert.equal(err.length, 1, err.join('\n'));
      assert.match(err[0]!, /^weir: /);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not be there.
      assert.doesNotMatch(err[0]!, /[\u0000-\u001f]/, JSON.stringify(err[0]));
    }
  });
});
