import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { findOnPath } from '../../src/bench/pick-engine.ts';
import { parseWrk, toMs } from '../../src/bench/wrk-output.ts';
import { serve } from '../helpers/http.ts';

// wrk 4.1's output of a run against a server that failed some requests.
const SAMPLE = `Running 10s test @ http://127.0.0.1:3100/json
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.52ms  812.40us   1.02s    91.23%
    Req/Sec    18.20k     1.10k   19.80k    72.00%
  Latency Distribution
     50%    3.40ms
     75%    3.71ms
     90%    4.12ms
     99%  950.00us
  181234 requests in 10.00s, 30.42MB read
  Socket errors: connect 0, read 12, write 3, timeout 1
  Non-2xx or 3xx responses: 42
Requests/sec:  18123.40
Transfer/sec:      3.04MB
`;

describe("reading wrk's output", () => {
  it('reads req/s, the distribution in ms, the max, the request count and every error', () => {
    assert.deepEqual(parseWrk(SAMPLE), {
      rps: 18123.4,
      p50: 3.4,
      p75: 3.71,
      p90: 4.12,
      p99: 950 * 0.001, // wrk's µs times 0.001, as bench/ always read them
      max: 1020,
      requests: 181234,
      socketErrors: 16,
      socketErrorText: 'Socket errors: connect 0, read 12, write 3, timeout 1',
      non2xx: 42,
    });
  });

  it('says what is missing instead of returning nonsense', () => {
    assert.throws(() => parseWrk('wrk: unable to connect'), /no Requests\/sec line/);
    assert.throws(
      () => parseWrk(SAMPLE.replace(/ {2}Latency Distribution[\s\S]*?(?= {2}181234)/, '')),
      /--latency/,
    );
    assert.throws(() => toMs('12 parsecs'), /cannot read wrk duration/);
  });

  it('reads a real wrk run: its request count is what the server answered, less any in flight at the end', {
    skip: findOnPath('wrk', process.env.PATH) ? false : 'wrk is not on PATH',
  }, async () => {
    let answered = 0;
    const app = new App();
    app.get('/', () => {
      answered++;
      return 'ok';
    });
    const server = await serve(app);
    try {
      const text = await new Promise<string>((resolve, reject) =>
        execFile(
          'wrk',
          ['-t1', '-c2', '-d1s', '--latency', `http://127.0.0.1:${server.port}/`],
          (err, out) => (err ? reject(err) : resolve(out)),
        ),
      );
      const r = parseWrk(text);
      assert.ok(r.requests !== undefined && r.requests > 0);
      assert.ok(r.requests <= answered && answered <= r.requests + 2, `${r.requests} vs ${answered}`);
      assert.ok(r.p50 <= r.p99 && r.p99 <= (r.max ?? 0));
      assert.equal(r.non2xx, 0);
    } finally {
      await server.close();
    }
  });
});
