import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { App, type AppOptions, HttpError, sleep } from 'weir';
import { type AccessLogOptions, accessLog } from 'weir/observability';
import { deferred, request, serve } from '../helpers/http.ts';
import { open, refusal, waitFor } from '../helpers/ws.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-access-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function readLines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** A logger keeping each line's object and message. */
function recorder() {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') } };
}

async function withApp(
  appOptions: AppOptions,
  logOptions: AccessLogOptions,
  setup: (app: App) => void,
  run: (handle: { port: number }) => Promise<void>,
) {
  const app = new App({ logger: false, ...appOptions });
  setup(app);
  const log = accessLog(app, logOptions);
  const handle = await serve(app);
  try {
    await run(handle);
  } finally {
    await handle.close();
    await log.close();
  }
  return log;
}

describe('access log', () => {
  it('logs WebSocket upgrades: 101 for an accepted socket, the status of a refused one, by route pattern', async () => {
    const file = join(dir, 'ws.log');
    let opened = 0;
    await withApp(
      {},
      { to: file },
      (app) => {
        app.ws(
          '/rooms/:room',
          async (ctx, next) => {
            if (ctx.query.token !== 'ok') throw new HttpError(401, 'WEIR_ERR_UNAUTHORIZED', 'No token');
            await next();
          },
          (socket) => {
            opened++;
            socket.send('hi');
          },
        );
      },
      async ({ port }) => {
        const client = await open(`ws://127.0.0.1:${port}/rooms/secret-room?token=ok`);
        await client.until(1);
        assert.equal((await refusal(`ws://127.0.0.1:${port}/rooms/other`)).status, 401);
        assert.equal((await refusal(`ws://127.0.0.1:${port}/nowhere`)).status, 404);
        const foreign = await refusal(`ws://127.0.0.1:${port}/rooms/x?token=ok`, {
          headers: { origin: 'https://evil.example' },
        });
        assert.equal(foreign.status, 403);
        client.ws.close(1000);
        await waitFor(
          () => readFileSync(file, 'utf8').split('\n').filter(Boolean).length === 4,
          'four lines',
        );
      },
    );
    assert.equal(opened, 1);
    const lines = readLines(file);
    assert.deepEqual(lines.map((l) => [l.method, l.route, l.status, l.completed]).sort(), [
      ['GET', '(unmatched)', 404, undefined],
      ['GET', '/rooms/:room', 101, undefined],
      ['GET', '/rooms/:room', 401, undefined],
      ['GET', '/rooms/:room', 403, undefined],
    ]);
    const accepted = lines.find((l) => l.status === 101)!;
    assert.ok((accepted.bytes as number) > 100, `the 101's bytes: ${accepted.bytes}`);
    assert.ok(!JSON.stringify(lines).includes('secret-room'), 'no raw path in the log');
  });

  it('writes one JSON line per request to a file: route pattern, status, duration, bytes, ip, request id', async () => {
    const file = join(dir, 'nested', 'access.log');
    const ids: string[] = [];
    const log = await withApp(
      {},
      { to: file },
      (app) => {
        app.get('/users/:id', (ctx) => ({ id: ctx.params.id }));
        app.post('/fail', () => {
          throw new Error('boom');
        });
      },
      async (handle) => {
        for (const path of ['/users/7?token=secret-query', '/users/secret-in-path', '/missing/private']) {
          ids.push(String((await request(handle, { path })).headers['x-request-id']));
        }
        ids.push(String((await request(handle, { path: '/fail', method: 'POST' })).headers['x-request-id']));
      },
    );
    assert.equal(log.written, 4);
    const lines = readLines(file);
    assert.deepEqual(
      lines.map((l) => [l.method, l.route, l.status, l.requestId, l.ip, l.msg]),
      [
        ['GET', '/users/:id', 200, ids[0], '127.0.0.1', 'request'],
        ['GET', '/users/:id', 200, ids[1], '127.0.0.1', 'request'],
        ['GET', '(unmatched)', 404, ids[2], '127.0.0.1', 'request'],
        ['POST', '/fail', 500, ids[3], '127.0.0.1', 'request'],
      ],
    );
    for (const line of lines) {
      assert.ok(typeof line.durationMs === 'number' && line.durationMs >= 0);
      // The status line, headers and body: more than the body alone.
      assert.ok(typeof line.bytes === 'number' && line.bytes > 100, `bytes ${line.bytes}`);
      assert.equal(line.completed, undefined);
    }
    const text = readFileSync(file, 'utf8');
    for (const leaked of ['secret', 'private', 'token']) assert.ok(!text.includes(leaked), leaked);
  });

  it('takes the client address from X-Forwarded-For only through trusted proxies', async () => {
    const { lines, logger } = recorder();
    await withApp(
      { trustProxy: ['127.0.0.1'] },
      { to: logger },
      (app) => app.get('/', () => 'ok'),
      async (handle) => {
        await request(handle, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      },
    );
    assert.equal(lines[0]?.obj.ip, '203.0.113.9');
    const plain = recorder();
    await withApp(
      {},
      { to: plain.logger },
      (app) => app.get('/', () => 'ok'),
      async (handle) => {
        await request(handle, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      },
    );
    assert.equal(plain.lines[0]?.obj.ip, '127.0.0.1');
  });

  it('samples: with sample 0 only responses of 500 and above are written', async () => {
    const { lines, logger } = recorder();
    await withApp(
      {},
      { to: logger, sample: 0 },
      (app) => {
        app.get('/', () => 'ok');
        app.get('/down', () => {
          throw new Error('x');
        });
      },
      async (handle) => {
        for (let i = 0; i < 20; i++) await request(handle, { path: '/' });
        await request(handle, { path: '/down' });
      },
    );
    assert.deepEqual(
      lines.map((l) => [l.obj.route, l.obj.status]),
      [['/down', 500]],
    );
  });

  it('marks a response the client did not wait for', async () => {
    const { lines, logger } = recorder();
    await withApp(
      {},
      { to: logger },
      (app) =>
        app.get('/slow', async (ctx) => {
          await sleep(200, ctx);
          return 'late';
        }),
      async (handle) => {
        await new Promise<void>((resolve) => {
          const req = httpRequest({ host: '127.0.0.1', port: handle.port, path: '/slow' });
          req.on('error', () => resolve());
          req.end();
          setTimeout(() => {
            req.destroy();
            resolve();
          }, 30);
        });
        for (let i = 0; i < 100 && lines.length === 0; i++) await sleep(10);
      },
    );
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.obj.route, '/slow');
    assert.equal(lines[0]?.obj.completed, false);
  });

  it('counts shed requests in one line per interval instead of a line each', async () => {
    const { lines, logger } = recorder();
    const { promise: gate, resolve: release } = deferred();
    await withApp(
      { overload: { minLimit: 1, maxLimit: 1, initialLimit: 1, maxQueue: 1, queueTimeoutMs: 5000 } },
      { to: logger, shedSummaryMs: 50 },
      (app) =>
        app.get('/work', async () => {
          await gate;
          return 'done';
        }),
      async (handle) => {
        const burst = Array.from({ length: 12 }, () => request(handle, { path: '/work' }));
        await sleep(120);
        release();
        const statuses = (await Promise.all(burst)).map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 503).length, 10);
      },
    );
    const requests = lines.filter((l) => l.msg === 'request');
    assert.equal(requests.length, 2, 'only the two served requests have lines');
    const summaries = lines.filter((l) => l.msg === 'requests shed');
    assert.equal(
      summaries.reduce((n, l) => n + Number(l.obj.shed), 0),
      10,
    );
    assert.ok(summaries.length <= 2, `${summaries.length} summary lines`);
    assert.equal(summaries[0]?.level, 'warn');
  });

  it('drops and counts lines past maxPendingBytes when the file does not keep up, and says so', async () => {
    // A FIFO with no reader yet: nothing can be written until one opens it.
    const fifo = join(dir, 'stalled.fifo');
    execFileSync('mkfifo', [fifo]);
    const { lines, logger } = recorder();
    const app = new App({ logger });
    app.get('/', () => 'ok');
    const log = accessLog(app, { to: fifo, maxPendingBytes: 4096, shedSummaryMs: 50 });
    const handle = await serve(app);
    let read = '';
    try {
      for (let i = 0; i < 100; i++) await request(handle, { path: '/' });
      await sleep(1100); // the once-a-second flush hands the last lines over
      assert.equal(log.written, 100);
      assert.ok(log.dropped > 50 && log.dropped < 100, `dropped ${log.dropped}`);
      await sleep(100);
      const warned = lines.filter((l) => l.msg?.startsWith('access log lines dropped'));
      assert.equal(
        warned.reduce((n, l) => n + Number(l.obj.dropped), 0),
        log.dropped,
      );
      assert.equal(warned[0]?.level, 'warn');
    } finally {
      await handle.close();
      const reader = createReadStream(fifo, 'utf8');
      reader.on('data', (chunk) => {
        read += chunk;
      });
      await log.close();
      await new Promise<void>((resolve) => reader.on('close', () => resolve()));
    }
    // What was not dropped arrives whole, line by line.
    const kept = read.split('\n').filter(Boolean);
    assert.equal(kept.length, 100 - log.dropped);
    for (const line of kept) assert.equal((JSON.parse(line) as { route: string }).route, '/');
  });

  it('refuses malformed options, naming them', () => {
    for (const [options, named] of [
      [{ sample: 2 }, /sample/],
      [{ sample: Number.NaN }, /sample/],
      [{ shedSummaryMs: 0 }, /shedSummaryMs/],
      [{ to: 42 }, /to/],
      [{ maxPendingBytes: 10 }, /maxPendingBytes/],
    ] as const) {
      assert.throws(
        () => accessLog(new App({ logger: false }), options as AccessLogOptions),
        (err: Error & { code?: string }) => err.code === 'WEIR_ERR_INVALID_OPTION' && named.test(err.message),
      );
    }
  });
});
