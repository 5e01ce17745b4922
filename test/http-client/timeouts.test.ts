import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { createHttpClient, type HttpClient } from 'weir/http-client';
import { type Upstream, upstream } from '../helpers/upstream.ts';

let server: Upstream | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

describe('http-client: time limits', { timeout: 20_000 }, () => {
  it('rejects with WEIR_ERR_UPSTREAM_TIMEOUT (504) when the upstream sends no headers within headersMs', async () => {
    server = await upstream(() => {}); // never answers
    client = createHttpClient({ baseUrl: server.url, timeouts: { headersMs: 100 }, retry: false });
    await assert.rejects(client.get('/stall'), {
      code: 'WEIR_ERR_UPSTREAM_TIMEOUT',
      status: 504,
      origin: server.origin,
      message: 'The upstream did not send its response headers in time',
    });
    // The stalled connection is not handed back to the pool: it is closed.
    await server.until(() => server!.closed >= 1 && server!.open === 0, 'the stalled socket close');
  });

  it('rejects with WEIR_ERR_UPSTREAM_TIMEOUT when the body stops for longer than bodyMs', async () => {
    server = await upstream((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('only part of it');
    });
    client = createHttpClient({ baseUrl: server.url, timeouts: { bodyMs: 100 }, retry: false });
    await assert.rejects(client.get('/half'), {
      code: 'WEIR_ERR_UPSTREAM_TIMEOUT',
      message: 'The upstream did not send its response body in time',
    });
    await server.until(() => server!.closed >= 1 && server!.open === 0, 'the socket close');
  });

  it('totalMs bounds the whole call, however the upstream trickles its body', async () => {
    server = await upstream((_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('.'), 20); // never silent for bodyMs
      res.on('close', () => clearInterval(timer));
    });
    client = createHttpClient({
      baseUrl: server.url,
      timeouts: { bodyMs: 1000, totalMs: 200 },
      retry: false,
    });
    await assert.rejects(client.get('/trickle'), {
      code: 'WEIR_ERR_UPSTREAM_TIMEOUT',
      message: 'The upstream did not answer within totalMs (200)',
    });
    await server.until(() => server!.closed >= 1 && server!.open === 0, 'the socket close');
  });

  it('a call sets its own, shorter, limit', async () => {
    server = await upstream(() => {});
    client = createHttpClient({ baseUrl: server.url, retry: false });
    await assert.rejects(client.get('/stall', { timeouts: { totalMs: 50 } }), {
      code: 'WEIR_ERR_UPSTREAM_TIMEOUT',
    });
  });

  it('rejects with WEIR_ERR_UPSTREAM_UNAVAILABLE (502) when the connection is refused', async () => {
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    client = createHttpClient({ baseUrl: `http://127.0.0.1:${port}`, retry: false });
    const err = await client.get('/').catch((e: unknown) => e);
    assert.equal((err as { code?: string }).code, 'WEIR_ERR_UPSTREAM_UNAVAILABLE');
    assert.equal((err as { status?: number }).status, 502);
    assert.equal((err as { cause?: { code?: string } }).cause?.code, 'ECONNREFUSED');
  });

  it('rejects with WEIR_ERR_UPSTREAM_UNAVAILABLE when the upstream resets the connection mid-response', async () => {
    server = await upstream((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write('partial', () => res.socket?.resetAndDestroy());
    });
    client = createHttpClient({ baseUrl: server.url });
    await assert.rejects(client.get('/reset'), { code: 'WEIR_ERR_UPSTREAM_UNAVAILABLE' });
    // Lost after the response began: not retried, even for a GET.
    assert.equal(server.requests, 1);
  });

  it('refuses bad options when the client is made', () => {
    assert.throws(() => createHttpClient({ timeouts: { headersMs: 0 } }), {
      code: 'WEIR_ERR_INVALID_OPTION',
      message: /timeouts\.headersMs/,
    });
    assert.throws(() => createHttpClient({ baseUrl: 'ftp://x' }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => createHttpClient({ connections: 0 }), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => createHttpClient({ breaker: { failureRatio: 2 } }), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
  });
});
