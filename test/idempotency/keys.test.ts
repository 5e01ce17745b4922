/**
 * What idempotency() accepts: hostile keys on a real socket (400 naming the header, never the key),
 * its options, and its refusal of an in-process cache under worker processes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { App, type ServerHandle } from 'weir';
import { type Cache, openCache } from 'weir/cache';
import { idempotency } from 'weir/idempotency';
import { inject } from 'weir/testing';
import { raw, serve } from '../helpers/http.ts';

describe('idempotency() keys on the wire', () => {
  let cache: Cache;
  let handle: ServerHandle;
  let runs = 0;
  before(async () => {
    cache = await openCache('memory:', { logger: false });
    const app = new App({ logger: false });
    app.post('/pay', idempotency({ cache, maxKeyLength: 64 }), () => ({ run: ++runs }));
    handle = await serve(app);
  });
  after(async () => {
    await handle.close();
    await cache.close();
  });

  /** A POST with the key header written as raw bytes (latin1), so no client library cleans it. */
  const send = async (key: string) => {
    const text = await raw(
      handle.port,
      `POST /pay HTTP/1.1\r\nHost: x\r\nIdempotency-Key: ${key}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`,
    );
    const status = Number(text.slice(9, 12));
    return { status, body: text.slice(text.indexOf('\r\n\r\n') + 4) };
  };

  it('answers 400 naming the header, without echoing it, for keys too long, with controls, or not ASCII', async () => {
    const hostile = [
      `evil-${'k'.repeat(60)}`, // 65 characters, over maxKeyLength
      'evil\tkey', // a tab passes the HTTP parser, not the key check
      'evil-caf\xe9', // obs-text: Latin-1 bytes
      'evil-\xe2\x9c\x93', // UTF-8 bytes of ✓
      '"evil"quoted"',
      '""',
    ];
    for (const key of hostile) {
      const res = await send(key);
      assert.equal(res.status, 400, JSON.stringify(key));
      const { error } = JSON.parse(res.body) as { error: { code: string; message: string } };
      assert.equal(error.code, 'WEIR_ERR_IDEMPOTENCY_KEY_INVALID');
      assert.match(error.message, /Idempotency-Key|idempotency-key/);
      assert.doesNotMatch(res.body, /evil/);
    }
    assert.equal(runs, 0);
  });

  it('accepts printable ASCII up to maxKeyLength, and a quoted key as its unquoted self', async () => {
    const longest = `${'k'.repeat(63)}!`;
    assert.equal((await send(longest)).status, 200);
    assert.equal((await send(longest)).status, 200);
    assert.equal((await send('"sf-string key"')).status, 200);
    assert.equal((await send('sf-string key')).status, 200);
    assert.equal(runs, 2);
  });
});

describe('idempotency() options', () => {
  it('refuses bad options at creation with WEIR_ERR_INVALID_OPTION naming the option', async () => {
    const cache = await openCache('memory:', { logger: false });
    const bad: [Record<string, unknown>, RegExp][] = [
      [{}, /cache/],
      [{ cache: {} }, /cache/],
      [{ cache, windowMs: 0 }, /windowMs/],
      [{ cache, lockMs: -1 }, /lockMs/],
      [{ cache, maxKeyLength: 1.5 }, /maxKeyLength/],
      [{ cache, maxResponseBytes: '1' }, /maxResponseBytes/],
      [{ cache, header: 'bad header' }, /header/],
      [{ cache, methods: [] }, /methods/],
      [{ cache, scope: 'user' }, /scope/],
      [{ cache, replayHeaders: ['Set-Cookie'] }, /Set-Cookie/],
      [{ cache, required: 'yes' }, /required/],
    ];
    for (const [options, name] of bad) {
      assert.throws(
        () => idempotency(options as never),
        (err: Error & { code?: string }) => err.code === 'WEIR_ERR_INVALID_OPTION' && name.test(err.message),
        JSON.stringify(Object.keys(options)),
      );
    }
    await cache.close();
  });

  it('a scope that returns no string is a 500, and runs nothing', async () => {
    const cache = await openCache('memory:', { logger: false });
    const app = new App({ logger: false });
    let runs = 0;
    app.post('/s', idempotency({ cache, scope: () => undefined as never }), () => ({ run: ++runs }));
    const res = await inject(app, { method: 'POST', url: '/s', headers: { 'idempotency-key': 'k' } });
    assert.equal(res.status, 500);
    assert.equal(runs, 0);
    await cache.close();
  });
});

describe('idempotency() under worker processes', () => {
  const saved = process.env.WEIR_WORKER_SLOT;
  after(() => {
    if (saved === undefined) delete process.env.WEIR_WORKER_SLOT;
    else process.env.WEIR_WORKER_SLOT = saved;
  });

  it('refuses an in-process cache at creation unless allowMemoryWithWorkers', async () => {
    const cache = await openCache('memory:', { logger: false });
    process.env.WEIR_WORKER_SLOT = '1';
    assert.throws(
      () => idempotency({ cache }),
      (err: Error & { code?: string }) =>
        err.code === 'WEIR_ERR_INVALID_OPTION' && /worker/.test(err.message) && /redis/.test(err.message),
    );
    assert.doesNotThrow(() => idempotency({ cache, allowMemoryWithWorkers: true }));
    // A cache opened at start is checked when the first request needs it.
    const app = new App({ logger: false });
    app.post('/late', idempotency({ cache: () => cache }), () => 'ran');
    const res = await inject(app, { method: 'POST', url: '/late', headers: { 'idempotency-key': 'k' } });
    assert.equal(res.status, 500);
    assert.notEqual(res.body, 'ran');
    delete process.env.WEIR_WORKER_SLOT;
    assert.doesNotThrow(() => idempotency({ cache }));
    await cache.close();
  });
});
