import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type BenchOptions, parseBenchArgs } from '../../src/bench/options.ts';

const URL = 'http://127.0.0.1:9/x';

function options(...argv: string[]): BenchOptions {
  const parsed = parseBenchArgs([URL, ...argv]);
  assert.equal(parsed.help, false);
  return (parsed as { options: BenchOptions }).options;
}

function rejects(argv: string[], pattern: RegExp): Error {
  try {
    parseBenchArgs(argv);
  } catch (err) {
    assert.equal((err as { code?: string }).code, 'WEIR_ERR_INVALID_OPTION');
    assert.match((err as Error).message, pattern);
    return err as Error;
  }
  assert.fail(`accepted ${JSON.stringify(argv)}`);
}

describe('weir bench options', () => {
  it('has bounded defaults: 10 s × 3 rounds after a 3 s warm-up, 32 connections, 10 s time-out', () => {
    assert.deepEqual(options(), {
      url: URL,
      durationMs: 10_000,
      warmupMs: 3000,
      rounds: 3,
      connections: 32,
      timeoutMs: 10_000,
      method: 'GET',
      headers: [],
    });
  });

  it('reads durations in s, m and h, repeated headers, a body, a second target and the engine', () => {
    const o = options(
      '--duration=2m',
      '--warmup',
      '0',
      '--header',
      'Authorization: Bearer x',
      '--header',
      'X-Two:  two ',
      '--body',
      '{"a":1}',
      '--method',
      'POST',
      '--compare',
      'https://[::1]:8443/y',
      '--engine',
      'autocannon',
      '--out',
      'out',
    );
    assert.equal(o.durationMs, 120_000);
    assert.equal(o.warmupMs, 0);
    assert.deepEqual(o.headers, [
      ['Authorization', 'Bearer x'],
      ['X-Two', 'two'],
    ]);
    assert.equal(o.body, '{"a":1}');
    assert.equal(o.compare, 'https://[::1]:8443/y');
    assert.equal(o.engine, 'autocannon');
  });

  it('refuses a header value with CR or LF, naming the header but never showing its value', () => {
    for (const bad of [
      'Authorization: s3cret\r\nX-Injected: 1',
      'Authorization: s3cret\nX: 1',
      'X: a\u0000b',
    ]) {
      const err = rejects(
        [URL, '--header', bad],
        /--header (Authorization|X) must be a value without CR, LF/,
      );
      assert.doesNotMatch(err.message, /s3cret/);
    }
  });

  it('refuses header values beyond Latin-1, bad names, framing headers and too many headers', () => {
    rejects([URL, '--header', 'X-Name: caf\u00e9 \u2603'], /Latin-1/);
    rejects([URL, '--header', 'Bad Name: v'], /token as name/);
    rejects([URL, '--header', 'no colon'], /token as name/);
    rejects([URL, '--header', 'Content-Length: 5'], /other than Content-Length/);
    rejects([URL, '--header', 'transfer-encoding: chunked'], /other than Content-Length/);
    rejects([URL, '--header', `X: ${'a'.repeat(9000)}`], /at most 8192 bytes/);
    rejects([URL, ...Array.from({ length: 65 }, (_, i) => ['--header', `X-${i}: v`]).flat()], /at most 64/);
  });

  it('refuses durations, rounds and connections that are not whole, too small or unbounded', () => {
    for (const [flag, value] of [
      ['--duration', '0'],
      ['--duration', '-1'],
      ['--duration', '1.5'],
      ['--duration', 'abc'],
      ['--duration', '2h'],
      ['--duration', '99999999999'],
      ['--warmup', '-3'],
      ['--timeout', '0'],
    ] as const) {
      rejects([URL, `${flag}=${value}`], new RegExp(`${flag} must be whole seconds from \\d+ to 3600`));
    }
    rejects([URL, '--rounds', '0'], /--rounds must be an integer from 1 to 100/);
    rejects([URL, '--rounds', '1e3'], /--rounds must be an integer/);
    rejects([URL, '--connections', '10001'], /--connections must be an integer from 1 to 10000/);
  });

  it('refuses a missing, second or non-HTTP URL, a bad method, engine or --out', () => {
    rejects([], /weir bench must be one URL/);
    rejects([URL, 'http://127.0.0.1:9/two'], /one URL/);
    rejects(['ftp://127.0.0.1/x'], /URL must be an http:\/\/ or https:\/\/ URL/);
    rejects(['not a url'], /URL must be/);
    rejects([URL, '--compare', 'javascript:alert(1)'], /--compare must be an http/);
    rejects([URL, '--method', 'GET /evil HTTP/1.1\r\n'], /--method must be an HTTP method token/);
    rejects([URL, '--engine', 'ab'], /--engine must be wrk or autocannon/);
    rejects([URL, '--out', ' '], /--out must be a folder/);
    rejects([URL, '--body', 'x'.repeat(16 * 1024 * 1024 + 1)], /--body must be at most/);
  });

  it('keeps a CR/LF inside a URL out of the request line: the URL parser drops them', () => {
    const o = options('--compare', 'http://127.0.0.1:9/a\r\nX-Injected: 1');
    assert.equal(o.compare, 'http://127.0.0.1:9/aX-Injected:%201');
  });

  it('answers --help', () => {
    assert.deepEqual(parseBenchArgs(['--help']), { help: true });
  });
});
