import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { App, type ServerHandle, type TrustProxy } from 'weir';
import { inject } from 'weir/testing';
import { request, serve } from '../helpers/http.ts';

function clientApp(trustProxy?: TrustProxy): App {
  const app = new App({ logger: false, trustProxy });
  app.get('/', (ctx) => ({ ip: ctx.ip, protocol: ctx.protocol }));
  return app;
}

async function client(
  trustProxy: TrustProxy | undefined,
  headers: Record<string, string>,
  remoteAddress = '127.0.0.1',
): Promise<{ ip: string; protocol: string }> {
  const res = await inject(clientApp(trustProxy), { headers, remoteAddress });
  assert.equal(res.status, 200);
  return res.json();
}

describe('trustProxy', () => {
  it('ignores X-Forwarded-For and X-Forwarded-Proto by default', async () => {
    const headers = { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https' };
    assert.deepEqual(await client(undefined, headers), { ip: '127.0.0.1', protocol: 'http' });
    assert.deepEqual(await client(false, headers), { ip: '127.0.0.1', protocol: 'http' });
    assert.deepEqual(await client(0, headers), { ip: '127.0.0.1', protocol: 'http' });
  });

  it('with a hop count, believes that many entries from the right and no more', async () => {
    const xff = '198.51.100.66, 203.0.113.7, 10.0.0.2';
    assert.equal((await client(1, { 'x-forwarded-for': xff })).ip, '10.0.0.2');
    assert.equal((await client(2, { 'x-forwarded-for': xff })).ip, '203.0.113.7');
    assert.equal((await client(3, { 'x-forwarded-for': xff })).ip, '198.51.100.66');
    // More hops trusted than entries: the leftmost entry, never something invented.
    assert.equal((await client(9, { 'x-forwarded-for': xff })).ip, '198.51.100.66');
  });

  it('with a list, walks past trusted proxies to the first untrusted address', async () => {
    const trust = ['127.0.0.1/32', '::1', '10.0.0.0/8'];
    // The client forged "1.1.1.1" on the left; the edge proxy appended the real peer 203.0.113.7.
    const xff = '1.1.1.1, 203.0.113.7, 10.1.2.3';
    assert.equal((await client(trust, { 'x-forwarded-for': xff })).ip, '203.0.113.7');
    // A forged entry that claims to be a trusted proxy is walked past only up to the real client.
    const forged = '10.9.9.9, 198.51.100.1, 10.1.2.3';
    assert.equal((await client(trust, { 'x-forwarded-for': forged })).ip, '198.51.100.1');
  });

  it('believes nothing when the peer is not a trusted proxy', async () => {
    const headers = { 'x-forwarded-for': '1.1.1.1', 'x-forwarded-proto': 'https' };
    assert.deepEqual(await client(['10.0.0.0/8'], headers, '203.0.113.9'), {
      ip: '203.0.113.9',
      protocol: 'http',
    });
  });

  it('stops at a malformed entry: what lies left of it is not believed', async () => {
    const trust = ['127.0.0.1'];
    for (const bad of [
      'not-an-ip',
      '',
      '999.1.1.1',
      '1.2.3.4.5',
      'unknown',
      '::g',
      '[::1',
      '1.2.3.4:99999',
    ]) {
      const ip = (await client(trust, { 'x-forwarded-for': `198.51.100.1, ${bad}` })).ip;
      assert.equal(ip, '127.0.0.1', `entry ${JSON.stringify(bad)}`);
    }
    assert.equal((await client(trust, { 'x-forwarded-for': '198.51.100.1,,127.0.0.1' })).ip, '127.0.0.1');
    assert.equal((await client(1, { 'x-forwarded-for': 'x\u0000y' })).ip, '127.0.0.1');
  });

  it('reads IPv6 entries, bracketed entries with ports, and IPv4-mapped peers', async () => {
    const trust = ['::1', '127.0.0.0/8', 'fd00::/8'];
    assert.equal((await client(trust, { 'x-forwarded-for': '2001:db8::7' }, '::1')).ip, '2001:db8::7');
    assert.equal(
      (await client(trust, { 'x-forwarded-for': '[2001:db8::8]:4711, fd00::1' }, '::1')).ip,
      '2001:db8::8',
    );
    assert.equal((await client(trust, { 'x-forwarded-for': '192.0.2.1:80' }, '::1')).ip, '192.0.2.1');
    // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d; it matches the IPv4 range.
    assert.equal(
      (await client(trust, { 'x-forwarded-for': '192.0.2.2' }, '::ffff:127.0.0.1')).ip,
      '192.0.2.2',
    );
  });

  it('walks a huge forged header from the right only as far as the trusted hops', async () => {
    const forged = Array.from({ length: 1500 }, (_, i) => `10.0.${i >> 8}.${i & 255}`).join(', ');
    const xff = `${forged}, 203.0.113.7`;
    assert.ok(xff.length > 10_000);
    assert.equal((await client(1, { 'x-forwarded-for': xff })).ip, '203.0.113.7');
    assert.equal((await client(['127.0.0.1'], { 'x-forwarded-for': xff })).ip, '203.0.113.7');
  });

  it('takes X-Forwarded-Proto from the outermost trusted proxy, http or https only', async () => {
    const one = { 'x-forwarded-for': '203.0.113.7' };
    assert.equal((await client(1, { ...one, 'x-forwarded-proto': 'https' })).protocol, 'https');
    assert.equal((await client(1, { ...one, 'x-forwarded-proto': 'HTTPS' })).protocol, 'https');
    assert.equal((await client(1, { ...one, 'x-forwarded-proto': 'gopher' })).protocol, 'http');
    // Two appending proxies: the client's own forged first entry is not read.
    const two = { 'x-forwarded-for': '203.0.113.7, 10.0.0.2', 'x-forwarded-proto': 'http, https, http' };
    assert.equal((await client(2, two)).protocol, 'https');
    // One proxy that appends to what the client sent: its own (rightmost) entry counts.
    assert.equal((await client(1, { ...one, 'x-forwarded-proto': 'https, http' })).protocol, 'http');
  });

  it('refuses a malformed setting when the App is built', () => {
    for (const bad of [
      true,
      -1,
      1.5,
      ['10.0.0.0/33'],
      ['::/129'],
      ['nonsense'],
      ['1.2.3.4/8/8'],
      [7],
      '1.2.3.4',
    ]) {
      assert.throws(
        () => new App({ logger: false, trustProxy: bad as TrustProxy }),
        (err: Error & { code?: string }) => err.code === 'WEIR_ERR_INVALID_OPTION',
        JSON.stringify(bad),
      );
    }
  });

  describe('on a real socket', () => {
    let handle: ServerHandle | undefined;
    after(() => handle?.close());

    it('reads the peer address, and X-Forwarded-For when the peer is a trusted loopback proxy', async () => {
      handle = await serve(clientApp(['127.0.0.1', '::1', '::ffff:127.0.0.1']));
      const direct = await request(handle, {});
      assert.deepEqual(JSON.parse(direct.body), { ip: '127.0.0.1', protocol: 'http' });
      const proxied = await request(handle, {
        headers: { 'x-forwarded-for': '1.1.1.1, 203.0.113.7', 'x-forwarded-proto': 'https' },
      });
      assert.deepEqual(JSON.parse(proxied.body), { ip: '203.0.113.7', protocol: 'https' });
    });
  });
});
