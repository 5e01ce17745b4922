import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it, type TestContext } from 'node:test';
import * as v from 'valibot';
import { App, type AppOptions, type ServerHandle, sleep } from 'weir';
import { inject } from 'weir/testing';
import {
  DEFAULT_BODY_RATE_GRACE_MS,
  DEFAULT_MIN_BODY_RATE_BYTES_PER_SECOND,
} from '../../src/http/body-rate.ts';
import { deferred, serve } from '../helpers/http.ts';
import { within } from '../helpers/time.ts';

/** The grace period these tests use; the rate is checked every second, so the first check is at 1 s. */
const GRACE_MS = 300;
const WINDOW_MS = 1000;

function rateApp(options: AppOptions = {}): App {
  const app = new App({
    logger: false,
    minBodyRateBytesPerSecond: 1000,
    bodyRateGraceMs: GRACE_MS,
    ...options,
  });
  app.post('/text', async (ctx) => ({ bytes: (await ctx.text()).length }));
  app.post('/json', async (ctx) => ({ got: await ctx.json() }));
  app.post('/checked', { schema: { body: v.object({ text: v.string() }) } }, (ctx) => ({
    bytes: ctx.body.text.length,
  }));
  app.post('/unchecked', { minBodyRateBytesPerSecond: 0 }, async (ctx) => ({
    bytes: (await ctx.text()).length,
  }));
  return app;
}

async function withServer(app: App, test: (handle: ServerHandle) => Promise<void>): Promise<void> {
  const handle = await serve(app);
  try {
    await test(handle);
  } finally {
    await handle.close({ timeoutMs: 1000 });
  }
}

interface Trickled {
  /** What the server sent, as latin1. */
  response: string;
  /** From the head being written to the first byte of the answer. */
  answeredAfterMs: number;
  /** The server closed the connection (within the time allowed). */
  closed: boolean;
}

/**
 * Writes `head`, then `piece` every `everyMs`, `pieces` times at most, stopping at the first byte of an
 * answer; resolves when the server closes the connection, or after `limitMs`.
 */
function trickle(
  port: number,
  head: string,
  {
    piece,
    everyMs,
    pieces,
    limitMs = 6000,
  }: { piece: string; everyMs: number; pieces: number; limitMs?: number },
): Promise<Trickled> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const start = performance.now();
    let answeredAfterMs = -1;
    let sent = 0;
    const finish = (closed: boolean): void => {
      clearInterval(writer);
      clearTimeout(limit);
      socket.destroy();
      resolve({ response: Buffer.concat(chunks).toString('latin1'), answeredAfterMs, closed });
    };
    const writer = setInterval(() => {
      if (answeredAfterMs >= 0 || sent === pieces) return;
      sent++;
      socket.write(piece);
    }, everyMs);
    const limit = setTimeout(() => finish(false), limitMs);
    socket.on('data', (c: Buffer) => {
      if (answeredAfterMs < 0) answeredAfterMs = performance.now() - start;
      chunks.push(c);
    });
    // Writes after the server closed may fail; what it answered before is what counts.
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    socket.write(head);
  });
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1] ?? 0);
}

function jsonOf(response: string): { error?: { code: string; message: string; details?: unknown } } {
  return JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
}

/** Counts the rate-check timers created while `t` runs (weir's timers; Node's internal ones are not global). */
function countRateTimers(t: TestContext): () => number {
  const spy = t.mock.method(globalThis, 'setInterval');
  return () =>
    spy.mock.calls.filter((call) => (call.arguments[0] as () => void).name === 'checkBodyRate').length;
}

const head = (path: string, framing: string): string =>
  `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n${framing}\r\n\r\n`;

describe('minimum body data rate', () => {
  it('answers 408 WEIR_ERR_BODY_TOO_SLOW to a body trickled at 100 B/s after the grace period, and closes the connection', async (t) => {
    const timers = countRateTimers(t);
    await withServer(rateApp(), async (handle) => {
      const result = await trickle(handle.port, head('/text', 'Content-Length: 100000'), {
        piece: 'x'.repeat(10),
        everyMs: 100,
        pieces: 10_000,
      });
      assert.equal(statusOf(result.response), 408, result.response);
      assert.match(result.response, /\r\nconnection: close\r\n/i);
      const body = jsonOf(result.response);
      assert.equal(body.error?.code, 'WEIR_ERR_BODY_TOO_SLOW');
      assert.match(body.error?.message ?? '', /slower than the minimum of 1000 bytes\/s/);
      assert.deepEqual(body.error?.details, { minBytesPerSecond: 1000 });
      assert.equal(result.closed, true, 'the server closes the connection after the 408');
      // Not before the grace period and the first check; the upper bound leaves room for a busy machine.
      assert.ok(result.answeredAfterMs >= WINDOW_MS - 50, `answered after ${result.answeredAfterMs} ms`);
      assert.ok(
        result.answeredAfterMs < GRACE_MS + WINDOW_MS + 2000,
        `answered after ${result.answeredAfterMs} ms`,
      );
    });
    assert.equal(timers(), 1, 'one timer for the body read');
  });

  it('answers 408 to a chunked body trickled the same way', async () => {
    await withServer(rateApp(), async (handle) => {
      const result = await trickle(handle.port, head('/text', 'Transfer-Encoding: chunked'), {
        piece: `a\r\n${'y'.repeat(10)}\r\n`,
        everyMs: 100,
        pieces: 10_000,
      });
      assert.equal(statusOf(result.response), 408, result.response);
      assert.equal(jsonOf(result.response).error?.code, 'WEIR_ERR_BODY_TOO_SLOW');
      assert.equal(result.closed, true);
    });
  });

  it('answers 408 to a body trickled into a route with a body schema, before the schema runs', async () => {
    await withServer(rateApp(), async (handle) => {
      const result = await trickle(
        handle.port,
        'POST /checked HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
        { piece: 'x'.repeat(10), everyMs: 100, pieces: 10_000 },
      );
      assert.equal(statusOf(result.response), 408, result.response);
      assert.equal(jsonOf(result.response).error?.code, 'WEIR_ERR_BODY_TOO_SLOW');
      assert.equal(result.closed, true);
    });
  });

  it('serves a body sent at a healthy rate for longer than the grace period', async () => {
    // 200 bytes every 50 ms is 4,000 B/s, four times the minimum, for 2 s.
    await withServer(rateApp(), async (handle) => {
      const result = await trickle(handle.port, head('/text', 'Content-Length: 8000\r\nConnection: close'), {
        piece: 'z'.repeat(200),
        everyMs: 50,
        pieces: 40,
      });
      assert.equal(statusOf(result.response), 200, result.response);
      assert.deepEqual(jsonOf(result.response), { bytes: 8000 });
    });
  });

  it('does not time a route that turns the minimum off', async () => {
    await withServer(rateApp(), async (handle) => {
      const result = await trickle(
        handle.port,
        head('/unchecked', 'Content-Length: 30\r\nConnection: close'),
        {
          piece: 'u'.repeat(10),
          everyMs: 500,
          pieces: 3,
        },
      );
      assert.equal(statusOf(result.response), 200, result.response);
      assert.deepEqual(jsonOf(result.response), { bytes: 30 });
    });
  });

  it('creates no timer for a body that arrives with its head, over a socket or injected', async (t) => {
    const timers = countRateTimers(t);
    const app = rateApp();
    await withServer(app, async (handle) => {
      const bodies: [string, string][] = [
        ['/json', '{"a":1}'],
        ['/json', JSON.stringify({ list: Array.from({ length: 200 }, (_, i) => i) })],
        ['/checked', '{"text":"abc"}'],
      ];
      for (const [path, body] of bodies) {
        const result = await trickle(
          handle.port,
          `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
          { piece: '', everyMs: 1000, pieces: 0 },
        );
        assert.equal(statusOf(result.response), 200, result.response);
      }
    });
    const injected = await inject(app, { method: 'POST', url: '/json', body: { a: 1 } });
    assert.equal(injected.status, 200);
    assert.equal(timers(), 0);
  });

  it('refuses a negative or fractional minimum or grace, for the app and for a route', () => {
    assert.throws(() => new App({ minBodyRateBytesPerSecond: -1 }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => new App({ bodyRateGraceMs: 1.5 }), { code: 'WEIR_ERR_INVALID_OPTION' });
    const app = new App({ logger: false });
    assert.throws(() => app.post('/x', { minBodyRateBytesPerSecond: Number.NaN }, () => 'x'), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
    assert.throws(() => app.post('/x', { bodyRateGraceMs: -5 }, () => 'x'), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
  });

  it('states its defaults in the README limits table', () => {
    assert.equal(DEFAULT_MIN_BODY_RATE_BYTES_PER_SECOND, 1024);
    assert.equal(DEFAULT_BODY_RATE_GRACE_MS, 5000);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    assert.match(
      readme,
      /\| 1 KiB\/s \| `new App\(\{ minBodyRateBytesPerSecond \}\)`, route `\{ minBodyRateBytesPerSecond \}`/,
    );
    assert.match(readme, /\| 5 s \| `new App\(\{ bodyRateGraceMs \}\)`, route `\{ bodyRateGraceMs \}`/);
  });
});

describe('minimum body data rate on ctx.body', () => {
  // A high minimum, so that any second counted while the handler holds the body would trip it.
  const FAST = 1024 * 1024;
  const BODY_BYTES = 1024 * 1024;
  const bigHead = (path: string): string => head(path, `Content-Length: ${BODY_BYTES}\r\nConnection: close`);

  it('answers 408 to a client trickling into a handler that streams the body, aborts ctx.signal and fails the stream', async () => {
    const app = rateApp();
    const ended = deferred<{ reason: unknown; failure: unknown }>();
    app.post('/stream', async (ctx) => {
      let bytes = 0;
      try {
        for await (const chunk of ctx.body) bytes += (chunk as Buffer).length;
      } catch (failure) {
        ended.resolve({ reason: ctx.signal.reason, failure });
        throw failure;
      }
      ended.resolve({ reason: ctx.signal.reason, failure: undefined });
      return { bytes };
    });
    await withServer(app, async (handle) => {
      const result = await trickle(handle.port, head('/stream', 'Content-Length: 100000'), {
        piece: 's'.repeat(10),
        everyMs: 100,
        pieces: 10_000,
      });
      assert.equal(statusOf(result.response), 408, result.response);
      assert.match(result.response, /\r\nconnection: close\r\n/i);
      assert.equal(jsonOf(result.response).error?.code, 'WEIR_ERR_BODY_TOO_SLOW');
      assert.equal(result.closed, true);
      // The handler's loop does not wait forever on a stream nobody will feed.
      const { reason, failure } = await within(ended.promise, 2000, 'the handler stops reading');
      assert.equal((reason as { code?: string }).code, 'WEIR_ERR_BODY_TOO_SLOW');
      assert.equal((failure as { code?: string }).code, 'WEIR_ERR_BODY_TOO_SLOW');
    });
  });

  it('does not count the time a handler leaves read data waiting (for await with a slow loop)', async () => {
    const app = rateApp({ minBodyRateBytesPerSecond: FAST });
    app.post('/slow-reader', async (ctx) => {
      let bytes = 0;
      for await (const chunk of ctx.body) {
        if (bytes === 0) await sleep(1500);
        bytes += (chunk as Buffer).length;
      }
      return { bytes };
    });
    await withServer(app, async (handle) => {
      const result = await trickle(handle.port, bigHead('/slow-reader'), {
        piece: 'r'.repeat(BODY_BYTES),
        everyMs: 1,
        pieces: 1,
      });
      assert.equal(statusOf(result.response), 200, result.response);
      assert.deepEqual(jsonOf(result.response), { bytes: BODY_BYTES });
    });
  });

  it('does not count the time a handler keeps the stream paused (pipeline into a slow writer)', async () => {
    const app = rateApp({ minBodyRateBytesPerSecond: FAST });
    app.post('/slow-writer', async (ctx) => {
      let bytes = 0;
      const slow = new Writable({
        highWaterMark: 1,
        write(chunk: Buffer, _encoding, done) {
          bytes += chunk.length;
          setTimeout(done, 100);
        },
      });
      await pipeline(ctx.body, slow);
      return { bytes };
    });
    await withServer(app, async (handle) => {
      const result = await trickle(handle.port, bigHead('/slow-writer'), {
        piece: 'w'.repeat(BODY_BYTES),
        everyMs: 1,
        pieces: 1,
        limitMs: 15_000,
      });
      assert.equal(statusOf(result.response), 200, result.response);
      assert.deepEqual(jsonOf(result.response), { bytes: BODY_BYTES });
    });
  });
});
