/** docs/http-client.md: each example behaves as the guide says, against a local upstream. */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { App } from 'weir';
import { inject } from 'weir/testing';
import { createApp as fanOut } from '../../examples/docs/http-client/fan-out.ts';
import { createApp as profiles } from '../../examples/docs/http-client/profiles.ts';
import { type Upstream, upstream } from '../helpers/upstream.ts';

let server: Upstream | undefined;
let app: App | undefined;
afterEach(async () => {
  await app?.stop();
  await server?.close();
  app = server = undefined;
});

const json = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('docs/http-client.md', { timeout: 20_000 }, () => {
  it('profiles: a validated user, 404 handled, and an upstream failure as 502 without its body', async () => {
    server = await upstream((req, res) => {
      if (req.url === '/users/7') return json(res, 200, { id: 7, name: 'ada' });
      if (req.url === '/users/8') return json(res, 500, { error: 'pool exhausted at db-3:5432' });
      if (req.url === '/users/9') return json(res, 200, { id: 'nine' });
      json(res, 404, { error: 'no' });
    });
    app = profiles(server.url);
    const ok = await inject(app, { url: '/profiles/7' });
    assert.deepEqual(ok.json(), { id: 7, displayName: 'ADA' });
    const failed = await inject(app, { url: '/profiles/8' });
    assert.equal(failed.status, 502);
    assert.doesNotMatch(failed.body, /pool exhausted|db-3/);
    assert.equal(failed.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_UPSTREAM_STATUS');
    const invalid = await inject(app, { url: '/profiles/9' });
    assert.equal(invalid.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_UPSTREAM_INVALID');
    assert.equal((await inject(app, { url: '/profiles/7/exists' })).status, 200);
    assert.equal((await inject(app, { url: '/profiles/404/exists' })).status, 404);
  });

  it('fan-out: five prices, at most four at once; one failure fails the bundle', async () => {
    let inFlight = 0;
    let most = 0;
    server = await upstream((req, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        const sku = req.url!.split('/').at(-1)!;
        if (sku === 'c3' && fail) return json(res, 500, {});
        json(res, 200, { sku, cents: 100 });
      }, 20);
    });
    let fail = false;
    app = fanOut(server.url);
    const res = await inject(app, { url: '/bundle' });
    assert.deepEqual(
      res.json<{ sku: string }[]>().map((p) => p.sku),
      ['a1', 'b2', 'c3', 'd4', 'e5'],
    );
    assert.equal(most, 4);
    fail = true;
    const failed = await inject(app, { url: '/bundle' });
    assert.equal(failed.status, 502);
  });
});
