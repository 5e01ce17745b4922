import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { App, sleep, type TrustDeadline } from 'weir';
import { inject } from 'weir/testing';
import { request, serve } from '../helpers/http.ts';

interface Seen {
  deadline: number | undefined;
  left: number;
  ran: boolean;
}

function deadlineApp(trustDeadline?: TrustDeadline, timeoutMs?: number): { app: App; seen: Seen } {
  const seen: Seen = { deadline: undefined, left: Number.NaN, ran: false };
  const app = new App({ logger: false, trustDeadline });
  app.get('/', timeoutMs === undefined ? {} : { timeoutMs }, (ctx) => {
    seen.ran = true;
    seen.deadline = ctx.deadline;
    seen.left = ctx.timeLeft();
    return 'ok';
  });
  return { app, seen };
}

describe('ctx.deadline', () => {
  it('is undefined without a route timeout, and timeLeft() is Infinity', async () => {
    const { app, seen } = deadlineApp();
    assert.equal((await inject(app, {})).status, 200);
    assert.equal(seen.deadline, undefined);
    assert.equal(seen.left, Number.POSITIVE_INFINITY);
  });

  it("is the arrival plus the route's timeoutMs", async () => {
    const { app, seen } = deadlineApp(undefined, 2000);
    const before = Date.now();
    assert.equal((await inject(app, {})).status, 200);
    const after = Date.now();
    assert.ok(seen.deadline !== undefined && seen.deadline >= before + 2000 && seen.deadline <= after + 2000);
    assert.ok(seen.left > 1900 && seen.left <= 2000, `timeLeft ${seen.left}`);
  });

  it('ignores deadline headers unless trustDeadline says so', async () => {
    const soon = String(Date.now() + 500);
    for (const trust of [undefined, false] as const) {
      const { app, seen } = deadlineApp(trust);
      const res = await inject(app, { headers: { 'x-request-deadline': soon, 'grpc-timeout': '1m' } });
      assert.equal(res.status, 200);
      assert.equal(seen.deadline, undefined);
    }
    // Malformed headers from an untrusted peer are not even read.
    const { app } = deadlineApp(false);
    assert.equal((await inject(app, { headers: { 'grpc-timeout': 'soon' } })).status, 200);
  });

  it('takes X-Request-Deadline and grpc-timeout from a trusted peer; the earliest deadline wins', async () => {
    const now = Date.now();
    const { app, seen } = deadlineApp(true, 5000);
    await inject(app, { headers: { 'x-request-deadline': String(now + 1500) } });
    assert.equal(seen.deadline, now + 1500);
    await inject(app, { headers: { 'grpc-timeout': '800m' } });
    assert.ok(seen.deadline !== undefined && seen.deadline - Date.now() <= 800 && seen.deadline - now >= 700);
    await inject(app, { headers: { 'grpc-timeout': '2S', 'x-request-deadline': String(now + 1200) } });
    assert.equal(seen.deadline, now + 1200);
    // A header asking for more time than the route allows changes nothing: the route's timeout wins.
    const before = Date.now();
    await inject(app, { headers: { 'grpc-timeout': '1H' } });
    assert.ok(
      seen.deadline !== undefined && seen.deadline >= before + 5000 && seen.deadline <= Date.now() + 5000,
    );
    // One too far off to arm a timer for is no deadline.
    const { app: open, seen: openSeen } = deadlineApp(true);
    await inject(open, { headers: { 'x-request-deadline': String(now + 90 * 86_400_000) } });
    assert.equal(openSeen.deadline, undefined);
  });

  it('trusts only the listed peers', async () => {
    const headers = { 'grpc-timeout': '700m' };
    const listed = deadlineApp(['10.0.0.0/8', '::1']);
    await inject(listed.app, { headers, remoteAddress: '10.1.2.3' });
    assert.notEqual(listed.seen.deadline, undefined);
    await inject(listed.app, { headers, remoteAddress: '192.0.2.1' });
    assert.equal(listed.seen.deadline, undefined);
    assert.throws(() => new App({ trustDeadline: ['not-an-address'] }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => new App({ trustDeadline: [] }), { code: 'WEIR_ERR_INVALID_OPTION' });
  });

  it('answers 400 WEIR_ERR_BAD_DEADLINE to a malformed trusted header, naming it without echoing it', async () => {
    const cases: Record<string, string>[] = [
      { 'grpc-timeout': '250' },
      { 'grpc-timeout': '123456789m' },
      { 'grpc-timeout': '-5S' },
      { 'grpc-timeout': '5 S<script>' },
      { 'x-request-deadline': 'tomorrow<script>' },
      { 'x-request-deadline': '1e12' },
      { 'x-request-deadline': '12345678901234567' },
    ];
    for (const headers of cases) {
      const { app, seen } = deadlineApp(true);
      const res = await inject(app, { headers });
      assert.equal(res.status, 400, JSON.stringify(headers));
      const body = res.json() as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'WEIR_ERR_BAD_DEADLINE');
      const [name, value] = Object.entries(headers)[0] as [string, string];
      assert.match(body.error.message.toLowerCase(), new RegExp(name));
      assert.ok(!res.body.includes(value), 'the value is not echoed');
      assert.equal(seen.ran, false);
    }
  });

  it('answers 503 at once, without running the handler, when the deadline has already passed', async () => {
    const { app, seen } = deadlineApp(true, 5000);
    const res = await inject(app, { headers: { 'x-request-deadline': String(Date.now() - 10) } });
    assert.equal(res.status, 503);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'WEIR_ERR_DEADLINE_EXCEEDED');
    assert.equal(seen.ran, false);
  });

  it('aborts ctx.signal and answers 503 at a trusted deadline earlier than the route timeout', async () => {
    const app = new App({ logger: false, trustDeadline: true });
    let reason: unknown;
    app.get('/slow', { timeoutMs: 5000 }, async (ctx) => {
      try {
        await sleep(10_000, ctx);
      } catch (err) {
        reason = err;
        throw err;
      }
      return 'late';
    });
    const handle = await serve(app);
    try {
      const started = performance.now();
      const res = await request(handle, { path: '/slow', headers: { 'grpc-timeout': '300m' } });
      const took = performance.now() - started;
      assert.equal(res.status, 503);
      assert.equal(JSON.parse(res.body).error.code, 'WEIR_ERR_DEADLINE_EXCEEDED');
      assert.ok(took >= 280 && took < 2000, `answered after ${Math.round(took)} ms`);
      assert.equal((reason as { code?: string }).code, 'WEIR_ERR_DEADLINE_EXCEEDED');
    } finally {
      await handle.close();
    }
  });
});
