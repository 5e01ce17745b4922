/**
 * docs/idempotency.md: the payments example charges once per key and account, replays the first
 * response, refuses another body with the same key, and adds one receipt job per payment.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { hasJobStatus } from 'weir/queue';
import { inject } from 'weir/testing';
import type * as PaymentsExample from '../../examples/docs/idempotency/payments.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-docs-idempotency-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('docs/idempotency.md', () => {
  it('charges once per key and account, replays the response, and refuses another body with 422', async () => {
    process.env.QUEUE_URL = `sqlite:${join(dir, 'queue.db')}`;
    delete process.env.CACHE_URL;
    const { app, charges, receipts }: typeof PaymentsExample = await import(
      '../../examples/docs/idempotency/payments.ts'
    );
    delete process.env.QUEUE_URL;
    const pay = (key: string | undefined, amount: number, account = 'acme') =>
      inject(app, {
        method: 'POST',
        url: '/payments',
        headers: { 'x-account': account, ...(key === undefined ? {} : { 'idempotency-key': key }) },
        body: { amount },
      });
    try {
      assert.equal(
        (await inject(app, { method: 'POST', url: '/payments', body: { amount: 1 } })).status,
        401,
      );
      const missing = await pay(undefined, 500);
      assert.equal(missing.status, 400);
      assert.equal(
        missing.json<{ error: { code: string } }>().error.code,
        'WEIR_ERR_IDEMPOTENCY_KEY_MISSING',
      );
      const first = await pay('7f9c1e2a-order-1', 500);
      const retry = await pay('7f9c1e2a-order-1', 500);
      assert.equal(first.status, 201);
      assert.equal(retry.status, 201);
      assert.equal(retry.body, first.body);
      assert.equal(retry.headers.location, first.headers.location);
      assert.equal(retry.headers['idempotent-replayed'], 'true');
      assert.equal(charges.length, 1);
      const reused = await pay('7f9c1e2a-order-1', 900);
      assert.equal(reused.status, 422);
      assert.equal(reused.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_IDEMPOTENCY_KEY_REUSED');
      // Another account's key is its own, even with the same text.
      assert.equal((await pay('7f9c1e2a-order-1', 500, 'globex')).status, 201);
      assert.equal(charges.length, 2);
      assert.ok(hasJobStatus(receipts));
      const counts = await receipts.counts();
      assert.equal(counts.waiting + counts.active + counts.completed, 2);
    } finally {
      await app.stop();
    }
  });
});
