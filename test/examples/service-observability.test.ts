import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sleep } from 'weir';
import { spawnTs } from '../helpers/process.ts';
import { parsePrometheus, sample } from '../helpers/prometheus.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-service-observe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('the reference service as operators see it', () => {
  it('serves /metrics, writes an access log, and follows a request id to its job', async () => {
    const accessFile = join(dir, 'logs', 'access.log');
    const service = spawnTs(new URL('../../examples/service/main.ts', import.meta.url), {
      PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'weir.db')}`,
      QUEUE_URL: `sqlite:${join(dir, 'queue.db')}`,
      ACCESS_LOG: accessFile,
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
    });
    try {
      const [, url] = await service.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/);
      const plain = await fetch(`${url}/plaintext`);
      assert.equal(await plain.text(), 'Hello, World!');
      const requestId = plain.headers.get('x-request-id');
      assert.match(String(requestId), /^[0-9a-f]{16}-[0-9a-z]+$/);
      const job = await fetch(`${url}/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ to: 'ada@example.com', workMs: 1 }),
      });
      assert.equal(job.status, 202);
      const jobRequest = job.headers.get('x-request-id');
      const location = job.headers.get('location');
      for (let i = 0; i < 500; i++) {
        const state = ((await (await fetch(`${url}${location}`)).json()) as { state: string }).state;
        if (state === 'completed') break;
        await sleep(20);
      }
      const metrics = await fetch(`${url}/metrics`);
      assert.equal(metrics.status, 200);
      const families = parsePrometheus(await metrics.text());
      assert.equal(sample(families, 'weir_http_requests_total', { route: '/plaintext', status: '200' }), 1);
      assert.equal(
        sample(families, 'weir_http_requests_total', { route: '/jobs', method: 'POST', status: '202' }),
        1,
      );
      assert.equal(
        sample(families, 'weir_queue_attempts_total', { queue: 'welcome-emails', outcome: 'completed' }),
        1,
      );
      assert.ok((sample(families, 'weir_overload_limit') ?? 0) >= 1);
      assert.equal(sample(families, 'weir_cache_degraded', { cache: 'main' }), 0);
      // SIGTERM: the access log is flushed as the service stops.
      service.child.kill('SIGTERM');
      assert.equal(await service.exited(), 0);
      const lines = readFileSync(accessFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { route: string; status: number; requestId: string });
      assert.ok(lines.some((l) => l.route === '/plaintext' && l.requestId === requestId));
      assert.ok(lines.some((l) => l.route === '/jobs' && l.status === 202 && l.requestId === jobRequest));
      assert.ok(
        lines.some((l) => l.route === '/jobs/:id'),
        'patterns, not job ids',
      );
    } finally {
      service.child.kill('SIGKILL');
    }
  });
});
