import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inject } from 'weir/testing';
import { app } from './bodies.ts';

test('POST /greetings answers 201 with the greeting', async () => {
  const res = await inject(app, { method: 'POST', url: '/greetings', body: { name: 'Ada' } });
  assert.equal(res.status, 201);
  assert.deepEqual(res.json(), { greeting: 'Hello, Ada' });
});

test('POST /greetings answers 415 to a body that is not JSON', async () => {
  const res = await inject(app, {
    method: 'POST',
    url: '/greetings',
    headers: { 'content-type': 'text/plain' },
    body: 'Ada',
  });
  assert.equal(res.status, 415);
  assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_BODY_UNSUPPORTED_TYPE');
});
