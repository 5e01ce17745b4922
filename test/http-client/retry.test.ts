import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { createHttpClient, type HttpClient } from 'weir/http-client';
import { parseRetryAfter, retryWait } from '../../src/http-client/retry.ts';
import { type Upstream, upstream } from '../helpers/upstream.ts';

let server: Upstream | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

/** An upstream that answers `first` to the first `times` requests, then 200 `{ n }`. */
function flaky(times: number, first: (res: import('node:http').ServerResponse) => void) {
  return upstream((_req, res, n) => {
    if (n <= times) return first(res);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ n }));
  });
}

const busy = (retryAfter: string) => (res: import('node:http').ServerResponse) => {
  res.writeHead(503, { 'retry-after': retryAfter });
  res.end('busy');
};

describe('http-client: retries', { timeout: 20_000 }, () => {
  it('retries a 503 after its Retry-After, and resolves with the answer that follows', async () => {
    server = await flaky(1, busy('1'));
    client = createHttpClient({ baseUrl: server.url });
    assert.deepEqual(await client.getJson('/'), { n: 2 });
    assert.equal(server.requests, 2);
    // Timers never fire early: the retry came no sooner than the second the upstream asked for.
    assert.ok(
      server.arrivals[1]! - server.arrivals[0]! >= 990,
      `${server.arrivals[1]! - server.arrivals[0]!}`,
    );
  });

  it("makes no retry whose wait would cross the caller's deadline: the last answer stands", async () => {
    server = await flaky(5, busy('1'));
    client = createHttpClient({ baseUrl: server.url });
    const res = await client.get('/', { deadline: Date.now() + 500 });
    assert.equal(res.status, 503);
    assert.equal(res.text(), 'busy');
    assert.equal(server.requests, 1);
    await assert.rejects(client.getJson('/', { deadline: Date.now() + 500 }), {
      code: 'WEIR_ERR_UPSTREAM_UNAVAILABLE',
      details: { status: 503 },
    });
    assert.equal(server.requests, 2);
  });

  it('stops at the deadline of the request given as ctx', async () => {
    server = await flaky(1000, (res) => {
      res.writeHead(502);
      res.end();
    });
    // No breaker: with full jitter, 20 or more attempts can fit in 300 ms, and the breaker would open.
    client = createHttpClient({
      baseUrl: server.url,
      retry: { attempts: 1000, baseMs: 40, maxMs: 40 },
      breaker: false,
    });
    const ctx = { signal: new AbortController().signal, deadline: Date.now() + 300 };
    // Backoffs of up to 40 ms: a few retries fit before the deadline, then the last answer stands, or,
    // when the deadline falls during an attempt, that attempt ends with it.
    const err = await client.getJson('/', { ctx }).then(
      () => assert.fail('a 502 every time cannot succeed'),
      (e: { code: string; details?: { status?: number } }) => e,
    );
    const ended = Date.now();
    if (err.code === 'WEIR_ERR_UPSTREAM_UNAVAILABLE') assert.equal(err.details?.status, 502);
    else assert.equal(err.code, 'WEIR_ERR_DEADLINE_EXCEEDED');
    assert.ok(ended < ctx.deadline + 250, `ended ${ended - ctx.deadline} ms after the deadline`);
    assert.ok(server.requests >= 2 && server.requests < 1000, String(server.requests));
  });

  it('retries 429 with backoff, up to `attempts` in all', async () => {
    server = await flaky(10, (res) => {
      res.writeHead(429);
      res.end();
    });
    client = createHttpClient({ baseUrl: server.url, retry: { attempts: 4, baseMs: 5, maxMs: 10 } });
    assert.equal((await client.get('/')).status, 429);
    assert.equal(server.requests, 4);
  });

  it('does not retry a POST, unless it carries an idempotency key', async () => {
    server = await flaky(1, busy('0'));
    client = createHttpClient({ baseUrl: server.url });
    assert.equal((await client.post('/', { body: 'x' })).status, 503);
    assert.equal(server.requests, 1);
    assert.deepEqual(await client.postJson('/', { a: 1 }, { idempotencyKey: 'k-1' }), { n: 2 });
    assert.equal(server.requests, 2);
  });

  it('retries a GET whose connection is reset before any byte of the response', async () => {
    server = await upstream((req, res, n) => {
      if (n === 1) return req.socket.resetAndDestroy();
      res.end('second');
    });
    client = createHttpClient({ baseUrl: server.url, retry: { baseMs: 5 } });
    assert.equal((await client.get('/')).text(), 'second');
    assert.equal(server.requests, 2);
  });

  it('does not retry a Retry-After longer than maxRetryAfterMs', async () => {
    server = await flaky(1, busy('60'));
    client = createHttpClient({ baseUrl: server.url, retry: { maxRetryAfterMs: 5_000 } });
    assert.equal((await client.get('/')).status, 503);
    assert.equal(server.requests, 1);
  });

  it('reads Retry-After as seconds or an HTTP date; the wait never reaches the deadline', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('-1', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    const s = { attempts: 3, baseMs: 100, maxMs: 1000, maxRetryAfterMs: 10_000 };
    const failed = { retryable: true, retryAfterMs: 500 };
    assert.equal(retryWait(1, failed, s, true, now + 501, now), 500);
    assert.equal(retryWait(1, failed, s, true, now + 500, now), undefined);
    assert.equal(retryWait(3, failed, s, true, now + 10_000, now), undefined);
    assert.equal(retryWait(1, failed, s, false, now + 10_000, now), undefined);
    // Full jitter: within 0…min(maxMs, baseMs × 2^(n-1)).
    for (let n = 1; n <= 2; n++) {
      for (let i = 0; i < 50; i++) {
        const wait = retryWait(n, { retryable: true, retryAfterMs: undefined }, s, true, Infinity, now)!;
        assert.ok(wait >= 0 && wait < 100 * 2 ** (n - 1), String(wait));
      }
    }
  });
});
