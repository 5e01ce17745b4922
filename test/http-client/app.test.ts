import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { afterEach, describe, it } from 'node:test';
import * as v from 'valibot';
import { App } from 'weir';
import { createHttpClient, type HttpClient } from 'weir/http-client';
import { inject } from 'weir/testing';
import { serve } from '../helpers/http.ts';
import { type Upstream, upstream } from '../helpers/upstream.ts';

let server: Upstream | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

const SECRET = 'db password is hunter2';

describe('http-client in a weir app', { timeout: 20_000 }, () => {
  it("closes the upstream request when the weir route's client leaves (ctx.signal)", async () => {
    let upstreamClosed = false;
    server = await upstream((req) => {
      req.socket.on('close', () => {
        upstreamClosed = true;
      });
    });
    client = createHttpClient({ baseUrl: server.url });
    const c = client;
    const app = new App({ logger: false });
    let settled: unknown;
    app.get('/proxy', async (ctx) => {
      try {
        return await c.get('/stall', { ctx });
      } catch (err) {
        settled = err;
        throw err;
      }
    });
    const handle = await serve(app);
    try {
      const req = httpRequest({ host: '127.0.0.1', port: handle.port, path: '/proxy' });
      req.on('error', () => {});
      req.end();
      await server.until(() => server!.requests === 1, 'the proxied request');
      req.destroy();
      await server.until(() => upstreamClosed, 'the upstream request close');
      for (let i = 0; i < 200 && settled === undefined; i++) await new Promise((r) => setTimeout(r, 5));
      assert.ok(settled !== undefined, 'the call settled');
      assert.notEqual((settled as { code?: string }).code, 'WEIR_ERR_UPSTREAM_TIMEOUT');
    } finally {
      await handle.close({ timeoutMs: 1000 });
    }
  });

  it("a route's timeout stops the upstream call: the client gets weir's 503, the upstream its close", async () => {
    server = await upstream(() => {});
    client = createHttpClient({ baseUrl: server.url });
    const c = client;
    const app = new App({ logger: false });
    app.get('/slow', { timeoutMs: 100 }, (ctx) => c.getJson('/stall', { ctx }));
    const res = await inject(app, { url: '/slow' });
    assert.equal(res.status, 503);
    assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_REQUEST_TIMEOUT');
    await server.until(() => server!.open === 0 && server!.closed >= 1, 'the upstream request close');
  });

  it("answers 502 or 504 with weir's own error body: never the upstream's body", async () => {
    server = await upstream((req, res) => {
      if (req.url === '/stall') return;
      const status = Number(req.url!.slice(1));
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: SECRET, stack: `at ${SECRET}` }));
    });
    client = createHttpClient({ baseUrl: server.url, retry: false, timeouts: { totalMs: 100 } });
    const c = client;
    const app = new App({ logger: false });
    app.get('/relay/:what', (ctx) => c.getJson(`/${ctx.params.what}`, { ctx }));
    const expected: [string, number, string, number | undefined][] = [
      ['500', 502, 'WEIR_ERR_UPSTREAM_STATUS', 500],
      ['404', 502, 'WEIR_ERR_UPSTREAM_STATUS', 404],
      ['503', 502, 'WEIR_ERR_UPSTREAM_UNAVAILABLE', 503],
      ['504', 504, 'WEIR_ERR_UPSTREAM_TIMEOUT', 504],
      ['stall', 504, 'WEIR_ERR_UPSTREAM_TIMEOUT', undefined],
    ];
    for (const [what, status, code, upstreamStatus] of expected) {
      const res = await inject(app, { url: `/relay/${what}` });
      assert.equal(res.status, status, what);
      assert.doesNotMatch(res.body, /hunter2/, what);
      const { error } = res.json<{ error: { code: string; details?: unknown; message: string } }>();
      assert.equal(error.code, code, what);
      assert.deepEqual(error.details, upstreamStatus === undefined ? undefined : { status: upstreamStatus });
      assert.doesNotMatch(error.message, new RegExp(String(server.origin.split(':').at(-1))), 'no port');
    }
  });

  it('getJson validates with a Standard Schema (valibot): typed output, or WEIR_ERR_UPSTREAM_INVALID', async () => {
    const User = v.object({ id: v.number(), name: v.string() });
    server = await upstream((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/users/7') return res.end('{"id":7,"name":"Ada","extra":true}');
      if (req.url === '/users/8') return res.end(`{"id":"eight","name":"${SECRET}"}`);
      res.end('{"id": 9, oops');
    });
    client = createHttpClient({ baseUrl: server.url });
    const user = await client.getJson('/users/7', { schema: User });
    assert.deepEqual(user, { id: 7, name: 'Ada' });
    const id: number = user.id;
    assert.equal(id, 7);
    const bad = await client.getJson('/users/8', { schema: User }).catch((e: unknown) => e);
    assert.equal((bad as { code?: string }).code, 'WEIR_ERR_UPSTREAM_INVALID');
    assert.equal((bad as Error).message, "The upstream's response breaks the schema (1 issue)");
    // The operator's log gets where and why, through the cause; never the value.
    assert.match(String((bad as { cause?: Error }).cause?.message), /^id: /);
    assert.doesNotMatch(String((bad as { cause?: Error }).cause?.message), /eight|hunter2/);
    await assert.rejects(client.getJson('/users/9'), {
      code: 'WEIR_ERR_UPSTREAM_INVALID',
      message: 'The upstream answered a body that is not JSON',
    });
  });

  it('sends JSON bodies, headers and queries; refuses a call with both ctx and signal', async () => {
    server = await upstream((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c;
      });
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({ url: req.url, type: req.headers['content-type'], x: req.headers['x-a'], body }),
        );
      });
    });
    client = createHttpClient({ baseUrl: `${server.url}/api/`, headers: { 'x-a': 'client' } });
    assert.deepEqual(await client.postJson('/things', { a: 1 }, { query: { page: 2, none: undefined } }), {
      url: '/api/things?page=2',
      type: 'application/json',
      x: 'client',
      body: '{"a":1}',
    });
    const res = await client.put('/x', { body: 'raw', headers: { 'x-a': 'call' } });
    assert.equal(res.json<{ x: string }>().x, 'call');
    const ctx = { signal: new AbortController().signal };
    await assert.rejects(client.get('/', { ctx, signal: ctx.signal }), { code: 'WEIR_ERR_INVALID_OPTION' });
    await assert.rejects(client.get('no-slash'), { code: 'WEIR_ERR_INVALID_OPTION' });
    await client.close();
    await assert.rejects(client.get('/'), { code: 'WEIR_ERR_UPSTREAM_UNAVAILABLE' });
  });
});
