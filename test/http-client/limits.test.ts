import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { gather } from 'weir';
import { createHttpClient, type HttpClient } from 'weir/http-client';
import { type Upstream, upstream } from '../helpers/upstream.ts';

let server: Upstream | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

const KiB = 1024;

describe('http-client: limits', { timeout: 20_000 }, () => {
  it('rejects a body larger than maxBodyBytes with WEIR_ERR_UPSTREAM_TOO_LARGE and closes its connection', async () => {
    // Chunked, so only counting the bytes finds it; the upstream would send 64 MiB.
    server = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * KiB, 1);
      let sent = 0;
      const pump = () => {
        while (sent < 1024 && res.write(chunk)) sent++;
        if (sent < 1024) res.once('drain', pump);
        else res.end();
      };
      res.on('close', () => res.off('drain', pump));
      pump();
    });
    client = createHttpClient({ baseUrl: server.url, maxBodyBytes: 256 * KiB });
    await assert.rejects(client.get('/huge'), {
      code: 'WEIR_ERR_UPSTREAM_TOO_LARGE',
      status: 502,
      message: 'The upstream answered a body larger than maxBodyBytes (262144)',
    });
    await server.until(() => server!.open === 0 && server!.closed >= 1, 'the connection close');
    assert.equal(server.requests, 1);
  });

  it('refuses a declared Content-Length over maxBodyBytes before reading any of it', async () => {
    server = await upstream((_req, res) => {
      res.writeHead(200, { 'content-length': String(1024 * KiB) });
      res.write(Buffer.alloc(KiB));
    });
    client = createHttpClient({ baseUrl: server.url, maxBodyBytes: 64 * KiB });
    await assert.rejects(client.getJson('/declared'), { code: 'WEIR_ERR_UPSTREAM_TOO_LARGE' });
    await server.until(() => server!.open === 0, 'the connection close');
  });

  it('reads a body of exactly maxBodyBytes, and keeps the connection for the next call', async () => {
    server = await upstream((_req, res) => res.end(Buffer.alloc(32 * KiB, 7)));
    client = createHttpClient({ baseUrl: server.url, maxBodyBytes: 32 * KiB });
    for (let i = 0; i < 5; i++) assert.equal((await client.get(`/${i}`)).body.length, 32 * KiB);
    // Kept alive and reused (undici's pool may open a spare while one is being handed back).
    assert.ok(server.maxOpen < 5, `${server.maxOpen} sockets for 5 calls in a row`);
    assert.equal(server.closed, 0);
  });

  it('never opens more than `connections` sockets to an origin, however many calls wait', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    server = await upstream((_req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end('ok');
      }, 10);
    });
    client = createHttpClient({ baseUrl: server.url, connections: 4 });
    const c = client;
    const answers = await gather(
      Array.from({ length: 40 }, (_, i) => () => c.get(`/${i}`).then((r) => r.text())),
      { limit: 40 },
    );
    assert.deepEqual(new Set(answers), new Set(['ok']));
    assert.equal(server.requests, 40);
    assert.ok(server.maxOpen <= 4, `${server.maxOpen} sockets at once`);
    assert.equal(maxInFlight, server.maxOpen);
    // Kept alive: the 40 calls shared those few connections.
    assert.equal(server.closed, 0);
  });
});
