import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inject } from 'weir/testing';
import { app } from '../src/app.ts';

// inject() runs a request through the whole app in the test's own process: no port, no server.
describe('app', () => {
  it('answers GET / with Hello, World', async () => {
    const res = await inject(app, { url: '/' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'Hello, World');
  });

  it('greets the name in the path', async () => {
    const res = await inject(app, { url: '/hello/ada' });
    assert.equal(res.body, 'Hello, ada');
  });

  it('answers /json with JSON', async () => {
    const res = await inject(app, { url: '/json' });
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json(), { message: 'Hello, World!' });
  });

  it('answers 404 with a JSON error for a path with no route', async () => {
    const res = await inject(app, { url: '/nowhere' });
    assert.equal(res.status, 404);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_NOT_FOUND');
  });
});
