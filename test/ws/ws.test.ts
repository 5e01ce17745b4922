import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, describe, it } from 'node:test';
import { App, HttpError } from 'weir';
import { requireAuth, session } from 'weir/security';
import { request, serve } from '../helpers/http.ts';
import { open, recordWs, refusal, waitFor } from '../helpers/ws.ts';

const handles: { close(o?: { timeoutMs: number }): Promise<void> }[] = [];
after(() => Promise.all(handles.map((h) => h.close({ timeoutMs: 1000 }))));

async function start(app: App<object>): Promise<{ url: string; ws: string; port: number }> {
  const handle = await serve(app);
  handles.push(handle);
  return { url: handle.url, ws: handle.url.replace('http', 'ws'), port: handle.port };
}

describe('app.ws()', () => {
  it('echoes text and binary frames, typed by frame, with params from the path', async () => {
    const app = new App({ logger: false });
    app.ws('/echo/:room', async (socket, ctx) => {
      socket.send(`joined ${ctx.params.room}`);
      for await (const message of socket) socket.send(message);
    });
    const { ws } = await start(app);
    const client = await open(`${ws}/echo/caf%C3%A9`);
    client.ws.send('hello');
    client.ws.send(Buffer.from([0, 1, 255]));
    await client.until(3);
    assert.deepEqual(client.messages, ['joined café', 'hello', Buffer.from([0, 1, 255])]);
    const malformed = await refusal(`${ws}/echo/%E0%A4%A`);
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'WEIR_ERR_BAD_REQUEST');
    client.ws.close(1000, 'bye');
    assert.deepEqual(await client.closed(), { code: 1000, reason: 'bye' });
  });

  it('shares the router: a plain GET to a WebSocket-only path gets 426, a GET route on the same path answers, unknown paths 404', async () => {
    const api = new App({ logger: false });
    api.ws('/live', (socket) => {
      socket.send('live');
    });
    api.get('/both', () => 'plain GET');
    api.ws('/both', (socket) => {
      socket.send('socket');
    });
    const app = new App({ logger: false });
    app.route('/api', api);
    assert.deepEqual(app.routes(), ['WS /api/live', 'GET /api/both', 'WS /api/both']);
    const { url, ws } = await start(app);
    const plain = await fetch(`${url}/api/live`);
    assert.equal(plain.status, 426);
    assert.equal(plain.headers.get('upgrade'), 'websocket');
    assert.equal(
      ((await plain.json()) as { error: { code: string } }).error.code,
      'WEIR_ERR_UPGRADE_REQUIRED',
    );
    const post = await fetch(`${url}/api/live`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'OPTIONS', 'WS is not an HTTP method in Allow');
    assert.equal(await (await fetch(`${url}/api/both`)).text(), 'plain GET');
    const both = await open(`${ws}/api/both`);
    await both.until(1);
    assert.deepEqual(both.messages, ['socket']);
    both.ws.close();
    // Another protocol's upgrade is served as the plain request it also is.
    const h2c = await request(
      { port: Number(new URL(url).port) },
      {
        path: '/api/both',
        headers: { connection: 'Upgrade, HTTP2-Settings', upgrade: 'h2c', 'http2-settings': '' },
      },
    );
    assert.equal(h2c.status, 200);
    assert.equal(h2c.body, 'plain GET');
    const missing = await refusal(`${ws}/api/nowhere`);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'WEIR_ERR_NOT_FOUND');
  });

  it('runs the upgrade through the app and route middleware: requireAuth refuses with 401 JSON, a session cookie lets it in', async () => {
    const app = new App({ logger: false });
    app.use(session());
    app.post('/login', async (ctx) => {
      await ctx.session.logIn({ id: 'ada' });
      return null;
    });
    app.ws('/me', requireAuth(), (socket, ctx) => {
      socket.send(`hello ${String(ctx.state.user.id)}`);
    });
    const { url, ws } = await start(app);
    const anonymous = await refusal(`${ws}/me`);
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.body.error.code, 'WEIR_ERR_UNAUTHENTICATED');
    const forged = await refusal(`${ws}/me`, { headers: { cookie: 'weir.sid=forged' } });
    assert.equal(forged.status, 401);
    const login = await fetch(`${url}/login`, { method: 'POST' });
    const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
    const client = await open(`${ws}/me`, { headers: { cookie } });
    await client.until(1);
    assert.deepEqual(client.messages, ['hello ada']);
    client.ws.close();
  });

  it('refuses cross-site Origins by default (same-origin), and follows an allow-list', async () => {
    const app = new App({ logger: false });
    app.ws('/same', (socket) => socket.close());
    app.ws('/listed', { origins: ['https://app.example'] }, (socket) => socket.close());
    const { ws, port } = await start(app);
    const evil = await refusal(`${ws}/same`, { origin: 'https://evil.example' });
    assert.equal(evil.status, 403);
    assert.equal(evil.body.error.code, 'WEIR_ERR_WS_ORIGIN');
    assert.doesNotMatch(JSON.stringify(evil.body), /evil/, 'the Origin is not echoed');
    for (const origin of [`http://127.0.0.1:${port}`, undefined]) {
      const ok = await open(`${ws}/same`, origin === undefined ? {} : { origin });
      assert.equal((await ok.closed()).code, 1000, `origin ${origin} is let in`);
    }
    assert.equal((await refusal(`${ws}/same`, { origin: `http://127.0.0.1:${port + 1}` })).status, 403);
    assert.equal((await refusal(`${ws}/same`, { origin: 'null' })).status, 403);
    assert.equal((await refusal(`${ws}/listed`, { origin: `http://127.0.0.1:${port}` })).status, 403);
    const listed = await open(`${ws}/listed`, { origin: 'https://app.example' });
    assert.equal((await listed.closed()).code, 1000);
  });

  it('answers a malformed handshake with 400 JSON, and a middleware that never lets go with 408 within handshakeTimeoutMs', async () => {
    const app = new App({ logger: false });
    app.ws(
      '/slow',
      { handshakeTimeoutMs: 100 },
      () => new Promise(() => {}),
      (socket) => socket.close(),
    );
    app.ws('/ok', (socket) => socket.close());
    const { port, ws } = await start(app);
    const raw = (head: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: '127.0.0.1', port }, () => socket.write(head));
        let text = '';
        socket.on('data', (c: Buffer) => {
          text += c.toString();
        });
        socket.on('close', () => resolve(text));
        socket.on('error', reject);
        socket.setTimeout(3000, () => reject(new Error(`the server left the socket open: ${text}`)));
      });
    const noKey = await raw(
      `GET /ok HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    assert.match(noKey, /^HTTP\/1\.1 400 /);
    assert.match(noKey, /WEIR_ERR_WS_HANDSHAKE/);
    const badVersion = await raw(
      `GET /ok HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 7\r\n\r\n`,
    );
    assert.match(badVersion, /^HTTP\/1\.1 400 /);
    assert.match(badVersion, /sec-websocket-version: 13/i);
    const started = Date.now();
    const slow = await refusal(`${ws}/slow`);
    assert.equal(slow.status, 408);
    assert.equal(slow.body.error.code, 'WEIR_ERR_WS_HANDSHAKE_TIMEOUT');
    assert.ok(Date.now() - started < 2000, `refused after ${Date.now() - started} ms`);
  });

  it("aborts the upgrade's ctx.signal when the client leaves during the middleware, and makes no socket", async () => {
    let aborted = false;
    let handled = false;
    const app = new App({ logger: false });
    app.ws(
      '/wait',
      async (ctx, next) => {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        aborted = true;
        await next();
      },
      () => {
        handled = true;
      },
    );
    const { port } = await start(app);
    const socket = connect({ host: '127.0.0.1', port }, () =>
      socket.write(
        `GET /wait HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    await waitFor(() => aborted, 'the signal to abort', 2000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(handled, false, 'no socket was made for a client that left');
  });

  it('keeps a frame the client sent right behind its handshake while the middleware ran', async () => {
    const app = new App({ logger: false });
    app.ws(
      '/early',
      async (_ctx, next) => {
        await new Promise((r) => setTimeout(r, 50));
        await next();
      },
      async (socket) => {
        for await (const message of socket) socket.send(`echo ${String(message)}`);
      },
    );
    const { port } = await start(app);
    // A masked text frame "hi" (mask 0: the payload as it is), sent with the handshake.
    const frame = Buffer.from([0x81, 0x82, 0, 0, 0, 0, 0x68, 0x69]);
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.write(
          Buffer.concat([
            Buffer.from(
              'GET /early HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
                'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
            ),
            frame,
          ]),
        );
      });
      let got = '';
      socket.on('data', (c: Buffer) => {
        got += c.toString('latin1');
        if (got.endsWith('echo hi')) {
          socket.destroy();
          resolve(got);
        }
      });
      socket.on('error', reject);
      socket.setTimeout(3000, () => reject(new Error(`no echo: ${JSON.stringify(got)}`)));
    });
    assert.match(text, /^HTTP\/1\.1 101 /);
  });

  it('cuts a client that sends more than 64 KiB before the handshake is answered, and keeps serving', async () => {
    const app = new App({ logger: false });
    let handled = 0;
    app.ws(
      '/early',
      async (_ctx, next) => {
        await new Promise((r) => setTimeout(r, 300));
        await next();
      },
      async (socket) => {
        handled++;
        for await (const message of socket) socket.send(message);
      },
    );
    const { port, ws } = await start(app);
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.write(
          'GET /early HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
        // 80 KiB while the middleware still runs: past what weir keeps for the socket.
        for (let i = 0; i < 10; i++) socket.write(Buffer.alloc(8 * 1024, 0x81));
      });
      let got = '';
      socket.on('data', (c: Buffer) => {
        got += c.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => resolve(got));
      socket.setTimeout(3000, () => {
        socket.destroy();
        resolve('still open');
      });
    });
    assert.equal(outcome, '', 'the connection is cut without a 101');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(handled, 0, 'no socket was made for it');
    const client = await open(`${ws}/early`);
    client.ws.send('still here');
    await client.until(1);
    assert.deepEqual(client.messages, ['still here']);
    client.ws.close();
  });

  it('closes with 1009 a message over maxMessageBytes, and with 1011 when the handler throws', async () => {
    const record = recordWs();
    const app = new App({ logger: false });
    app.ws('/small', { maxMessageBytes: 1024 }, async (socket) => {
      for await (const message of socket) socket.send(String(message.length));
    });
    app.ws('/broken', async (socket) => {
      for await (const _ of socket) throw new HttpError(500, 'BOOM', 'handler failed');
    });
    const { ws } = await start(app);
    const small = await open(`${ws}/small`);
    small.ws.send('x'.repeat(1024));
    await small.until(1);
    small.ws.send('x'.repeat(1025));
    assert.equal((await small.closed()).code, 1009);
    const broken = await open(`${ws}/broken`);
    broken.ws.send('go');
    assert.deepEqual(await broken.closed(), { code: 1011, reason: 'Internal error' });
    const closes = () =>
      record.events.filter((e) => e.type === 'close' && (e.path === '/small' || e.path === '/broken'));
    await waitFor(() => closes().length === 2, 'two closes');
    record.stop();
    assert.deepEqual(
      closes().map((e) => [e.path, e.reason]),
      [
        ['/small', 'too-large'],
        ['/broken', 'error'],
      ],
    );
  });

  it('puts headers middleware set on the 101, and refuses past maxConnections with 503', async () => {
    const app = new App({ logger: false });
    app.ws(
      '/one',
      { maxConnections: 1 },
      async (ctx, next) => {
        ctx.cookie('seen', '1');
        ctx.set('x-room', 'one');
        await next();
      },
      () => {},
    );
    const { ws } = await start(app);
    let headers: Record<string, unknown> = {};
    const first = await new Promise<import('ws').WebSocket>((resolve, reject) => {
      void import('ws').then(({ default: WebSocket }) => {
        const socket = new WebSocket(`${ws}/one`);
        socket.on('upgrade', (res) => {
          headers = res.headers;
        });
        socket.once('open', () => resolve(socket));
        socket.once('error', reject);
      });
    });
    assert.equal(headers['x-room'], 'one');
    assert.match(String(headers['set-cookie']), /^seen=1;/);
    const full = await refusal(`${ws}/one`);
    assert.equal(full.status, 503);
    assert.equal(full.body.error.code, 'WEIR_ERR_WS_FULL');
    first.close();
    await new Promise((r) => first.once('close', r));
    // The slot is back once the first socket closed.
    for (let i = 0; ; i++) {
      try {
        const again = await open(`${ws}/one`);
        again.ws.close();
        break;
      } catch (err) {
        if (i > 50 || (err as { status?: number }).status !== 503) throw err;
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  });

  it('validates its options when the route is added', () => {
    const app = new App({ logger: false });
    assert.throws(() => app.ws('/x', { maxBufferedBytes: 0 }, () => {}), { code: 'WEIR_ERR_INVALID_OPTION' });
    assert.throws(() => app.ws('/x', { origins: 'anywhere' as 'any' }, () => {}), {
      code: 'WEIR_ERR_INVALID_OPTION',
    });
    // @ts-expect-error: a route needs a handler
    assert.throws(() => app.ws('/x', {}), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});
