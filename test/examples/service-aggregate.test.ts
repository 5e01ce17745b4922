import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ServerHandle } from 'weir';
import { inject } from 'weir/testing';
import { AGGREGATE } from '../../examples/service/aggregate.ts';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { request, serve } from '../helpers/http.ts';

let handle: ServerHandle;
const paths: string[] = [];
let app: ReturnType<typeof createServiceApp>;
before(async () => {
  app = createServiceApp({ logger: false, db: await openServiceDatabase('sqlite::memory:') });
  app.use(async function seen(ctx, next) {
    paths.push(ctx.path);
    await next();
  });
  handle = await serve(app);
});
after(() => handle.close());

describe('reference service: GET /aggregate', { timeout: 20_000 }, () => {
  it("answers with its own routes' answers, fetched over HTTP with weir/http-client", async () => {
    const res = await request(handle, { path: '/aggregate' });
    assert.equal(res.status, 200, res.body);
    const body = JSON.parse(res.body) as {
      json: unknown;
      plaintext: unknown;
      worlds: { id: number; randomNumber: number }[];
    };
    assert.deepEqual(body.json, { message: 'Hello, World!' });
    assert.equal(body.plaintext, 'Hello, World!');
    assert.equal(body.worlds.length, 3);
    for (const world of body.worlds) {
      assert.ok(Number.isInteger(world.id) && world.id >= 1 && world.id <= 10_000);
      assert.ok(Number.isInteger(world.randomNumber));
    }
    assert.deepEqual(
      paths.slice(-1 - AGGREGATE.paths.length).sort(),
      ['/aggregate', ...AGGREGATE.paths].sort(),
    );
  });

  it('answers 503 in process (inject): there is no socket to call back on', async () => {
    const res = await inject(app, { url: '/aggregate' });
    assert.equal(res.status, 503);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'NO_SOCKET');
  });
});
