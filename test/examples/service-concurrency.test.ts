import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { configureWorkers, type Logger, type ServerHandle, shutdownWorkers } from 'weir';
import { inject } from 'weir/testing';
import { createServiceApp } from '../../examples/service/app.ts';
import { countPrimes } from '../../examples/service/compute.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { deferred, request, serve } from '../helpers/http.ts';

const infos: { obj: unknown; msg?: string }[] = [];
const sleepCancelled = deferred();
const logger: Logger = {
  error() {},
  warn() {},
  debug() {},
  info(obj, msg) {
    infos.push({ obj, msg });
    if (msg?.startsWith('sleep cancelled')) sleepCancelled.resolve();
  },
};

let handle: ServerHandle;
before(async () => {
  await shutdownWorkers();
  configureWorkers({ maxThreads: 1, maxQueue: 1 });
  handle = await serve(createServiceApp({ logger, db: await openServiceDatabase('sqlite::memory:') }));
});
after(async () => {
  await handle.close();
  await shutdownWorkers();
});

type ErrorBody = {
  error: {
    code: string;
    message: string;
    details?: { issues?: { in: string; path: string; message: string }[] };
  };
};

describe('POST /db', () => {
  it('looks up every id concurrently and answers the rows in order', async () => {
    const ids = [5, 1, 10000, 5];
    const res = await inject(
      createServiceApp({ logger: false, db: await openServiceDatabase('sqlite::memory:') }),
      {
        method: 'POST',
        url: '/db',
        body: { ids },
      },
    );
    assert.equal(res.status, 200);
    const rows = res.json<{ id: number; randomNumber: number }[]>();
    assert.deepEqual(
      rows.map((r) => r.id),
      ids,
    );
    for (const row of rows) assert.ok(row.randomNumber >= 1 && row.randomNumber <= 10000);
  });

  it('answers 400 naming the field for bad bodies', async () => {
    const app = createServiceApp({ logger: false, db: await openServiceDatabase('sqlite::memory:') });
    const cases: unknown[] = [
      {},
      { ids: [] },
      { ids: [0] },
      { ids: [10001] },
      { ids: [1.5] },
      { ids: ['1'] },
      [1, 2],
      {
        ids: Array.from({ length: 501 }, () => 1),
      },
    ];
    for (const body of cases) {
      const res = await inject(app, { method: 'POST', url: '/db', body });
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 40));
      const error = res.json<ErrorBody>().error;
      assert.equal(error.code, 'WEIR_ERR_VALIDATION');
      const issue = error.details?.issues?.[0];
      assert.equal(issue?.in, 'body');
      // The issue names ids (or one of its entries), or the body as a whole when it is not an object.
      assert.match(issue?.path ?? '', /^(ids(\[\d+\])?)?$/);
    }
  });
});

describe('GET /compute', () => {
  it('counts primes on a worker thread', async () => {
    const res = await request(handle, { path: '/compute?n=1000000' });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { n: 1000000, primes: 78498 });
    assert.equal(countPrimes(100), 25);
  });

  it('answers /plaintext while a long computation runs', async () => {
    const order: string[] = [];
    const compute = request(handle, { path: '/compute?n=10000000' }).then((r) => {
      order.push('compute');
      return r;
    });
    await new Promise((r) => setTimeout(r, 20));
    const plain = await request(handle, { path: '/plaintext' });
    order.push('plaintext');
    assert.equal(plain.body, 'Hello, World!');
    assert.equal(JSON.parse((await compute).body).primes, 664579);
    assert.deepEqual(order, ['plaintext', 'compute']);
  });

  it('answers 503 with Retry-After when the worker queue is full, not a hang', async () => {
    // One thread and one waiting slot: of three concurrent heavy requests, at least one is refused at once.
    const results = await Promise.all([1, 2, 3].map(() => request(handle, { path: '/compute?n=10000000' })));
    const refused = results.filter((r) => r.status === 503);
    assert.ok(refused.length >= 1, `statuses: ${results.map((r) => r.status).join(',')}`);
    assert.equal(refused[0]!.headers['retry-after'], '1');
    assert.equal(JSON.parse(refused[0]!.body).error.code, 'WEIR_ERR_WORKER_QUEUE_FULL');
    assert.ok(results.some((r) => r.status === 200));
  });

  it('answers 400 for n out of range', async () => {
    for (const n of ['0', '10000001', 'abc', '1.5']) {
      const res = await request(handle, { path: `/compute?n=${n}` });
      assert.equal(res.status, 400, n);
      assert.deepEqual(
        JSON.parse(res.body).error.details.issues.map(
          (i: { in: string; path: string }) => `${i.in}:${i.path}`,
        ),
        ['query:n'],
      );
    }
  });
});

describe('GET /sleep', () => {
  it('sleeps for the given time', async () => {
    const res = await request(handle, { path: '/sleep?ms=5' });
    assert.deepEqual(JSON.parse(res.body), { slept: 5 });
    assert.equal((await request(handle, { path: '/sleep?ms=30001' })).status, 400);
  });

  it('stops sleeping when the client disconnects (seen on the server)', async () => {
    const socket = connect(handle.port, '127.0.0.1');
    socket.write('GET /sleep?ms=30000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    await sleepCancelled.promise;
    assert.ok(infos.some((i) => i.msg === 'sleep cancelled: the client left'));
  });
});
