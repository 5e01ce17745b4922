/**
 * weir/client when there is no response to give: time limits, servers that never answer or never finish,
 * refused connections and aborts. Every call here is bounded by a `timeoutMs`, and each test by
 * `within()`, so that a regression fails instead of hanging.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { App, type ServerHandle, sleep } from 'weir';
import { createClient } from 'weir/client';
import { serve } from '../helpers/http.ts';
import { within } from '../helpers/time.ts';

const app = new App({ logger: false })
  .get('/slow', async (ctx) => {
    await sleep(10_000, { signal: ctx.signal });
    return { late: true };
  })
  .get('/fast', () => ({ fast: true }));

/** A TCP server that accepts connections and, per `mode`, says nothing or starts a response it never ends. */
async function silentServer(mode: 'nothing' | 'half'): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (mode === 'half') {
      socket.once('data', () =>
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":'),
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

let handle: ServerHandle;
let base: string;
before(async () => {
  handle = await serve(app);
  base = `http://127.0.0.1:${handle.port}`;
});
after(() => handle.close());

describe('createClient: failures', () => {
  it('rejects with WEIR_ERR_CLIENT_TIMEOUT when a route answers too late', async () => {
    const api = createClient<typeof app>(base, { timeoutMs: 5_000 });
    await within(
      assert.rejects(api.get('/slow', { timeoutMs: 100 }), {
        code: 'WEIR_ERR_CLIENT_TIMEOUT',
        message: `GET ${base}/slow did not answer within 100 ms`,
      }),
      5_000,
      'the call',
    );
    // The client is still usable, and the client-wide limit applies without a call's own.
    assert.equal((await api.get('/fast')).status, 200);
    const short = createClient<typeof app>(base, { timeoutMs: 100 });
    await within(assert.rejects(short.get('/slow'), { code: 'WEIR_ERR_CLIENT_TIMEOUT' }), 5_000, 'the call');
  });

  it('gives up on a server that accepts the connection and never answers', async () => {
    const silent = await silentServer('nothing');
    try {
      const api = createClient<typeof app>(`http://127.0.0.1:${silent.port}`, { timeoutMs: 150 });
      await within(assert.rejects(api.get('/fast'), { code: 'WEIR_ERR_CLIENT_TIMEOUT' }), 5_000, 'the call');
    } finally {
      await silent.close();
    }
  });

  it('gives up on a body that never ends', async () => {
    const half = await silentServer('half');
    try {
      const api = createClient<typeof app>(`http://127.0.0.1:${half.port}`, { timeoutMs: 150 });
      await within(assert.rejects(api.get('/fast'), { code: 'WEIR_ERR_CLIENT_TIMEOUT' }), 5_000, 'the call');
    } finally {
      await half.close();
    }
  });

  it('rejects with WEIR_ERR_CLIENT_NETWORK, naming host and port, when the connection is refused', async () => {
    const gone = await silentServer('nothing');
    await gone.close();
    const api = createClient<typeof app>(`http://127.0.0.1:${gone.port}`, { timeoutMs: 5_000 });
    await within(
      assert.rejects(api.get('/fast'), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'WEIR_ERR_CLIENT_NETWORK');
        assert.match(
          err.message,
          new RegExp(`^GET http://127\\.0\\.0\\.1:${gone.port}/fast failed: .*ECONNREFUSED`),
        );
        assert.ok(err.cause instanceof Error);
        return true;
      }),
      5_000,
      'the call',
    );
  });

  it("rejects with the signal's reason when a call or the client is aborted", async () => {
    const reason = new Error('the user left');
    const perCall = new AbortController();
    const api = createClient<typeof app>(base, { timeoutMs: 5_000 });
    const pending = api.get('/slow', { signal: perCall.signal });
    setTimeout(() => perCall.abort(reason), 50);
    await within(
      assert.rejects(pending, (err) => err === reason),
      5_000,
      'the call',
    );

    const shared = new AbortController();
    const scoped = createClient<typeof app>(base, { signal: shared.signal, timeoutMs: 5_000 });
    const both = [scoped.get('/slow'), scoped.get('/slow')];
    setTimeout(() => shared.abort(reason), 50);
    for (const call of both)
      await within(
        assert.rejects(call, (err) => err === reason),
        5_000,
        'the call',
      );

    // Already aborted: nothing is sent.
    let sent = 0;
    const counted = createClient<typeof app>(base, {
      signal: shared.signal,
      fetch: (url, init) => {
        sent++;
        return fetch(url, init);
      },
    });
    await assert.rejects(counted.get('/fast'), (err) => err === reason);
    assert.equal(sent, 0);
  });

  it('passes the body, method and credentials to an injected fetch', async () => {
    const seen: [string, RequestInit][] = [];
    const api = createClient<typeof app>('http://example.test/api/', {
      credentials: 'include',
      fetch: async (url, init) => {
        seen.push([url, init]);
        return new Response(null, { status: 204 });
      },
    });
    const untyped = api.post as unknown as (path: string, options: unknown) => Promise<{ status: number }>;
    assert.equal((await untyped('/x', { body: 'a string' })).status, 204);
    const [[url, init]] = seen as [[string, RequestInit]];
    assert.equal(url, 'http://example.test/api/x');
    assert.equal(init.method, 'POST');
    assert.equal(init.body, '"a string"');
    assert.equal(init.credentials, 'include');
    assert.deepEqual(init.headers, { 'content-type': 'application/json' });
    await assert.rejects(untyped('/x', { body: { n: 1n } }), {
      code: 'WEIR_ERR_INVALID_OPTION',
      message: /no JSON form/,
    });
  });
});
