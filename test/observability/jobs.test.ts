import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, sleep } from 'weir';
import { metrics } from 'weir/observability';
import { hasJobStatus, openJobQueue } from 'weir/queue';
import { inject } from 'weir/testing';
import { parsePrometheus, sample } from '../helpers/prometheus.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-observe-jobs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('a request followed to its jobs', () => {
  it('carries the request id HTTP → job → log, and the job metrics count each attempt', async () => {
    const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
    const at = (level: string) => (obj: unknown, msg?: string) =>
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    const logger = { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
    const queue = await openJobQueue<{ fail: boolean }>('emails', {
      url: `sqlite:${join(dir, 'queue.db')}`,
      pollIntervalMs: 5,
      logger,
    });
    const seen: (string | undefined)[] = [];
    const app = new App({ logger });
    const m = metrics(app, { queues: { emails: queue } });
    app.post('/send', async (ctx) => {
      const fail = ctx.query.fail === '1';
      ctx.log.info({ fail }, 'queueing');
      // `ctx` itself carries its signal, deadline and request id; a spread would lose the getters.
      const added = fail
        ? await queue.add({ fail }, { signal: ctx.signal, requestId: ctx.requestId, attempts: 1 })
        : await queue.add({ fail }, ctx);
      return { id: added.id };
    });
    app.worker(queue, async (job) => {
      seen.push(job.requestId);
      if (job.data.fail) throw new Error('the mail server refused');
    });
    await app.startWorkers();
    try {
      const ok = await inject(app, {
        method: 'POST',
        url: '/send',
        headers: { 'x-request-id': 'not-trusted' },
      });
      const bad = await inject(app, { method: 'POST', url: '/send?fail=1' });
      const okId = String(ok.headers['x-request-id']);
      const badId = String(bad.headers['x-request-id']);
      assert.notEqual(okId, 'not-trusted');
      for (let i = 0; i < 1000 && seen.length < 2; i++) await sleep(10);
      assert.deepEqual(seen.sort(), [okId, badId].sort(), 'each job has its request’s id');
      // The handler's own line and the queue's line about the dead job both name the request.
      assert.ok(lines.some((l) => l.msg === 'queueing' && l.obj.requestId === badId));
      for (let i = 0; i < 500 && !lines.some((l) => l.level === 'error'); i++) await sleep(10);
      const dead = lines.find((l) => l.level === 'error' && /dead-lettered/.test(l.msg ?? ''));
      assert.equal(dead?.obj.requestId, badId);
      if (hasJobStatus(queue)) {
        const job = await queue.get(ok.json<{ id: string }>().id);
        assert.equal(job?.requestId, okId);
      }
      const families = parsePrometheus(await m.text());
      assert.equal(
        sample(families, 'weir_queue_attempts_total', { queue: 'emails', outcome: 'completed' }),
        1,
      );
      assert.equal(sample(families, 'weir_queue_attempts_total', { queue: 'emails', outcome: 'dead' }), 1);
      assert.equal(sample(families, 'weir_queue_attempts_running', { queue: 'emails' }), 0);
      assert.equal(sample(families, 'weir_queue_jobs', { queue: 'emails', state: 'completed' }), 1);
      assert.equal(sample(families, 'weir_queue_jobs', { queue: 'emails', state: 'dead' }), 1);
      assert.ok(families.has('weir_queue_attempt_duration_seconds'));
    } finally {
      await app.stop();
      await queue.close();
    }
  });
});
