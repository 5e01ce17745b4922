import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { sleep } from 'weir';
import { createHttpClient, type HttpClient } from 'weir/http-client';
import { Breaker } from '../../src/http-client/breaker.ts';
import { type Upstream, upstream } from '../helpers/upstream.ts';

let server: Upstream | undefined;
let client: HttpClient | undefined;
afterEach(async () => {
  await client?.close();
  await server?.close();
  client = server = undefined;
});

const settings = { failureRatio: 0.5, minRequests: 4, windowMs: 1000, openMs: 500 };

describe('http-client: circuit breaker', { timeout: 20_000 }, () => {
  it('opens at failureRatio of minRequests in the window, half-opens after openMs, closes on a good probe', () => {
    let now = 10_000;
    const breaker = new Breaker(settings, () => now);
    breaker.record('failure', false);
    breaker.record('failure', false);
    breaker.record('success', false);
    assert.equal(breaker.state, 'closed', 'fewer than minRequests');
    breaker.record('failure', false);
    assert.equal(breaker.state, 'open', '3 of 4 failed');
    assert.equal(breaker.admit(), false);
    now += 499;
    assert.equal(breaker.admit(), false);
    assert.equal(breaker.retryInMs(), 1);
    now += 1;
    assert.equal(breaker.admit(), 'probe');
    assert.equal(breaker.state, 'half-open');
    assert.equal(breaker.admit(), false, 'one probe at a time');
    breaker.record('success', true);
    assert.equal(breaker.state, 'closed');
    // A fresh window: one failure is not enough.
    breaker.record('failure', false);
    assert.equal(breaker.state, 'closed');
  });

  it('opens again when the probe fails or is given up, and forgets outcomes older than the window', () => {
    let now = 0;
    const breaker = new Breaker(settings, () => now);
    for (let i = 0; i < 4; i++) breaker.record('failure', false);
    now += 500;
    assert.equal(breaker.admit(), 'probe');
    breaker.record('failure', true);
    assert.equal(breaker.state, 'open');
    now += 500;
    assert.equal(breaker.admit(), 'probe');
    breaker.record('ignored', true);
    assert.equal(breaker.state, 'open');

    const fresh = new Breaker(settings, () => now);
    for (let i = 0; i < 3; i++) fresh.record('failure', false);
    now += 2000;
    fresh.record('failure', false);
    assert.equal(fresh.state, 'closed', 'the old failures left the window');
    fresh.record('ignored', false);
    assert.equal(fresh.state, 'closed');
  });

  it('against a failing upstream: opens, fails fast with no connection, half-opens, closes', async () => {
    let healthy = false;
    server = await upstream((_req, res) => {
      res.writeHead(healthy ? 200 : 500);
      res.end(healthy ? 'ok' : 'down');
    });
    client = createHttpClient({ baseUrl: server.url, breaker: { ...settings, openMs: 100 } });
    for (let i = 0; i < 4; i++) assert.equal((await client.get('/')).status, 500);
    assert.equal(client.breakerState(), 'open');
    await assert.rejects(client.get('/'), {
      code: 'WEIR_ERR_UPSTREAM_UNAVAILABLE',
      message: "The upstream's circuit breaker is open",
    });
    assert.equal(server.requests, 4, 'no request while open');
    healthy = true;
    for (let i = 0; i < 100 && client.breakerState() === 'open'; i++) {
      await sleep(10);
      if (client.breakerState() === 'open') await client.get('/').catch(() => {});
    }
    assert.equal(client.breakerState(), 'closed', 'the probe succeeded');
    assert.equal(server.requests, 5);
    assert.equal((await client.get('/')).text(), 'ok');
    assert.equal(client.breakerState(`${server.origin}/any/path`), 'closed');
  });

  it('counts timeouts, not 4xx; `breaker: false` keeps none', async () => {
    server = await upstream((req, res) => {
      if (req.url === '/stall') return;
      res.writeHead(404);
      res.end();
    });
    client = createHttpClient({
      baseUrl: server.url,
      breaker: settings,
      timeouts: { totalMs: 30 },
      retry: false,
    });
    for (let i = 0; i < 6; i++) assert.equal((await client.get('/missing')).status, 404);
    assert.equal(client.breakerState(), 'closed');
    for (let i = 0; i < 6; i++) await client.get('/stall').catch(() => {});
    assert.equal(client.breakerState(), 'open');
    const plain = createHttpClient({ baseUrl: server.url, breaker: false, timeouts: { totalMs: 30 } });
    for (let i = 0; i < 6; i++) await plain.get('/stall').catch(() => {});
    assert.equal(plain.breakerState(), 'closed');
    await plain.close();
  });
});
