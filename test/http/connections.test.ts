import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { App } from 'weir';
import { deferred, keptAlive, raw, request, serve } from '../helpers/http.ts';

/** Connects, writes `head`, then one byte of `trickle` every `everyMs`; resolves with all the server sent. */
function trickle(
  port: number,
  head: string,
  drip: string,
  everyMs: number,
  giveUpMs: number,
): Promise<{ received: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let i = 0;
    const timer = setInterval(() => {
      if (i < drip.length && socket.writable) socket.write(drip[i++]!);
    }, everyMs);
    const done = (closedByServer: boolean): void => {
      clearInterval(timer);
      clearTimeout(limit);
      socket.destroy();
      resolve({ received: Buffer.concat(chunks).toString('latin1'), closedByServer });
    };
    const limit = setTimeout(() => done(false), giveUpMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => done(true));
    socket.on('error', () => {});
    socket.write(head);
  });
}

describe('connections', () => {
  it('enforces requestTimeoutMs within about a second, not on Node’s 30 s sweep', async () => {
    const app = new App({ logger: false });
    app.post('/', async (ctx) => ctx.text());
    const handle = await app.listen({
      port: 0,
      signals: false,
      requestTimeoutMs: 1000,
      headersTimeoutMs: 1000,
    });
    try {
      // A head sent one byte every 100 ms never completes; Node's default sweep would find it after 30 s.
      const { received, closedByServer } = await trickle(
        handle.port,
        'GET / HTTP/1.1\r\n',
        'X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
        100,
        8000,
      );
      assert.equal(closedByServer, true);
      assert.match(received, /^HTTP\/1\.1 408 /);
      assert.match(received, /"code":"WEIR_ERR_REQUEST_TIMEOUT"/);
    } finally {
      await handle.close();
    }
  });

  it('answers a body sent at 1 byte/s with 408 once requestTimeoutMs (3 s) has passed, not up to 30 s later', async () => {
    const app = new App({ logger: false });
    app.post('/', async (ctx) => ctx.text());
    const handle = await app.listen({ port: 0, signals: false, requestTimeoutMs: 3000 });
    try {
      // The head arrives whole; the body comes a byte a second, as the slow client of the report sent it
      // (its 408 came after 26.5 s when Node's 30 s sweep did the checking).
      const started = performance.now();
      const { received, closedByServer } = await trickle(
        handle.port,
        'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n',
        'y'.repeat(100),
        1000,
        10_000,
      );
      const elapsedMs = performance.now() - started;
      assert.equal(closedByServer, true);
      assert.match(received, /^HTTP\/1\.1 408 /);
      assert.match(received, /"code":"WEIR_ERR_REQUEST_TIMEOUT"/);
      assert.equal(received.match(/HTTP\/1\.1 \d{3}/g)?.length, 1);
      assert.ok(elapsedMs >= 2900 && elapsedMs < 5000, `408 after ${Math.round(elapsedMs)} ms`);
    } finally {
      await handle.close();
    }
  });

  it('answers a request once: no 408 after a 200 sent without reading a slowly sent body', async () => {
    const app = new App({ logger: false });
    app.post('/ignore', () => 'ok');
    const handle = await app.listen({
      port: 0,
      signals: false,
      requestTimeoutMs: 800,
      headersTimeoutMs: 800,
    });
    try {
      // The body would take 10 s; the request timeout ends the connection first, after the 200 went out.
      const { received, closedByServer } = await trickle(
        handle.port,
        'POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n',
        'y'.repeat(100),
        100,
        6000,
      );
      assert.equal(closedByServer, true, 'the request timeout must have fired within the 6 s');
      assert.equal(received.match(/HTTP\/1\.1 \d{3}/g)?.join(), 'HTTP/1.1 200');
    } finally {
      await handle.close();
    }
  });

  it('bounds open connections at maxConnections: the ones past it are closed at once, the rest are served', async () => {
    const warnings: string[] = [];
    const quiet = (): void => {};
    const logger = {
      error: quiet,
      info: quiet,
      debug: quiet,
      warn: (obj: unknown, msg?: string) => warnings.push(`${msg} ${JSON.stringify(obj)}`),
    };
    const app = new App({ logger });
    app.get('/', () => 'ok');
    const handle = await app.listen({ port: 0, signals: false, maxConnections: 10 });
    const sockets: Socket[] = [];
    try {
      const closed: Promise<unknown>[] = [];
      for (let i = 0; i < 15; i++) {
        const socket = connect(handle.port, '127.0.0.1');
        socket.on('error', () => {});
        closed.push(once(socket, 'close').then(() => i));
        socket.write('GET / HTTP/1.1\r\nHost: x\r\n'); // a head that never ends
        sockets.push(socket);
        await once(socket, 'connect');
      }
      // The five past the limit are closed by the server; the ten within it stay open.
      const first5 = await Promise.race([
        Promise.all(closed.slice(10)),
        sleep(5000, undefined, { ref: false }).then(() => 'timeout'),
      ]);
      assert.deepEqual(first5, [10, 11, 12, 13, 14]);
      const stillOpen = sockets.slice(0, 10).filter((s) => !s.destroyed).length;
      assert.equal(stillOpen, 10);
      // One warning for the burst, not one per refused connection.
      assert.deepEqual(warnings, [
        'connection limit reached: closing new connections {"maxConnections":10,"dropped":1}',
      ]);
      for (const s of sockets) s.destroy();
      await Promise.all(closed);
      await sleep(50);
      assert.equal((await request(handle, { path: '/' })).body, 'ok');
    } finally {
      for (const s of sockets) s.destroy();
      await handle.close();
    }
  });

  it('defaults maxConnections to ¾ of the open-file limit, at most 10,000, and refuses a bound that is not positive', async () => {
    const limit = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    assert.ok(limit !== null);
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    const handle = await serve(app);
    try {
      assert.equal(handle.server.maxConnections, Math.min(10_000, Math.floor(Number(limit[1]) * 0.75)));
    } finally {
      await handle.close();
    }
    // Under a lower limit the share shows: 400 descriptors allow 300 connections.
    const script = [
      "import { App } from 'weir';",
      'const h = await new App({ logger: false }).listen({ port: 0, signals: false });',
      'console.log(h.server.maxConnections);',
      'await h.close();',
    ].join(' ');
    const child = spawnSync(
      'sh',
      [
        '-c',
        'ulimit -n 400 && exec "$0" --conditions=weir-source --import tsx --input-type=module -e "$1"',
        process.execPath,
        script,
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    assert.equal(child.stdout.trim(), '300', child.stderr);
    for (const maxConnections of [0, -1, Number.NaN])
      await assert.rejects(app.listen({ port: 0, signals: false, maxConnections }), {
        code: 'WEIR_ERR_INVALID_OPTION',
      });
  });

  it('logs the stop: in-flight count, what the deadline ended, and “stopped”', async () => {
    const lines: string[] = [];
    const keep = (obj: unknown, msg?: string): void => {
      lines.push(`${msg} ${JSON.stringify(obj)}`);
    };
    const app = new App({ logger: { error: keep, warn: keep, info: keep, debug: keep } });
    const started = deferred();
    app.get('/stuck', () => {
      started.resolve();
      return new Promise(() => {});
    });
    const handle = await serve(app);
    const pending = request(handle, { path: '/stuck' });
    await started.promise;
    await handle.close({ timeoutMs: 100 });
    assert.equal((await pending).status, 503);
    const log = lines.join('\n');
    assert.match(log, /stopping: draining in-flight requests \{"inFlight":1,"timeoutMs":100\}/);
    assert.match(log, /drain deadline passed.*"answered503":1,"cut":0/);
    assert.match(log, /stopped \{"url":/);
  });

  it('cuts a response already under way at the deadline instead of appending a 503 to it', async () => {
    const app = new App({ logger: false });
    app.get('/stream', (ctx) => {
      ctx.res.writeHead(200, { 'content-type': 'text/plain' });
      ctx.res.write('partial');
      return new Promise(() => {});
    });
    const handle = await serve(app);
    const received = raw(handle.port, 'GET /stream HTTP/1.1\r\nHost: x\r\n\r\n');
    await sleep(50);
    await handle.close({ timeoutMs: 100 });
    const text = await received;
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.doesNotMatch(text, /503/);
  });
});

describe('drain and keep-alive clients', () => {
  it('answers a request sent on an idle kept-alive connection as the drain starts, with Connection: close', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    const handle = await serve(app);
    const { socket, next } = await keptAlive(handle.port);
    // The request is on its way (in the kernel, not read by the server yet) when the drain begins: closing
    // the connection as idle now would cut it.
    socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    const closing = handle.close({ timeoutMs: 5000 });
    const response = await next();
    assert.match(response, /^HTTP\/1\.1 200/);
    assert.match(response, /connection: close/i);
    assert.equal(await next(), '', 'the server closes the connection after that response');
    await closing;
  });

  it('closes a kept-alive connection that stays quiet during the drain', async () => {
    const app = new App({ logger: false });
    app.get('/', () => 'ok');
    const handle = await serve(app);
    const { next } = await keptAlive(handle.port);
    await handle.close({ timeoutMs: 5000 });
    assert.equal(await next(), '');
  });
});
