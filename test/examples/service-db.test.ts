/**
 * The reference service's database routes, on SQLite and on PostgreSQL: the TechEmpower db, queries,
 * fortunes and updates tests to their rules, and the seed's POST /db and GET /users.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { App } from 'weir';
import type { Database } from 'weir/db';
import { inject } from 'weir/testing';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { freshPostgresDatabase, postgresSkip } from '../helpers/services.ts';

interface World {
  id: number;
  randomNumber: number;
}

const FORTUNES_HTML =
  '<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>' +
  '<tr><td>11</td><td>&lt;script&gt;alert(&quot;This should not be displayed in a browser alert box.&quot;);&lt;/script&gt;</td></tr>' +
  '<tr><td>4</td><td>A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1</td></tr>' +
  '<tr><td>5</td><td>A computer program does what you tell it to do, not what you want it to do.</td></tr>' +
  '<tr><td>2</td><td>A computer scientist is someone who fixes things that aren&#39;t broken.</td></tr>' +
  '<tr><td>8</td><td>A list is only as strong as its weakest link. — Donald Knuth</td></tr>' +
  '<tr><td>0</td><td>Additional fortune added at request time.</td></tr>' +
  '<tr><td>3</td><td>After enough decimal places, nobody gives a damn.</td></tr>' +
  '<tr><td>7</td><td>Any program that runs right is obsolete.</td></tr>' +
  '<tr><td>10</td><td>Computers make very fast, very accurate mistakes.</td></tr>' +
  '<tr><td>6</td><td>Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen</td></tr>' +
  '<tr><td>9</td><td>Feature: A bug with seniority.</td></tr>' +
  '<tr><td>1</td><td>fortune: No such file or directory</td></tr>' +
  '<tr><td>12</td><td>フレームワークのベンチマーク</td></tr>' +
  '</table></body></html>';

function assertWorld(value: unknown): asserts value is World {
  const w = value as World;
  assert.deepEqual(Object.keys(w), ['id', 'randomNumber']);
  assert.ok(Number.isInteger(w.id) && w.id >= 1 && w.id <= 10000, `id ${w.id}`);
  assert.ok(Number.isInteger(w.randomNumber) && w.randomNumber >= 1 && w.randomNumber <= 10000);
}

function suite(
  engine: string,
  open: () => Promise<Database>,
  cleanup: () => Promise<void>,
  skip: string | false,
) {
  describe(`reference service on ${engine}`, { skip }, () => {
    let app: App;
    let db: Database;
    before(async () => {
      db = await open();
      app = createServiceApp({ logger: false, db });
    });
    after(async () => {
      await app?.stop();
      await cleanup();
    });

    it('GET /db answers one random row as JSON', async () => {
      const res = await inject(app, { url: '/db' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(res.headers.server, 'weir');
      assert.ok(res.headers.date);
      assert.equal(Number(res.headers['content-length']), Buffer.byteLength(res.body));
      assertWorld(res.json());
    });

    it('GET /queries answers N rows, with N clamped to 1…500 and junk read as 1', async () => {
      const twenty = (await inject(app, { url: '/queries?queries=20' })).json<World[]>();
      assert.equal(twenty.length, 20);
      twenty.forEach(assertWorld);
      const cases: [string, number][] = [
        ['/queries', 1],
        ['/queries?queries=', 1],
        ['/queries?queries=foo', 1],
        ['/queries?queries=0', 1],
        ['/queries?queries=-3', 1],
        ['/queries?queries=7abc', 7],
        ['/queries?queries=501', 500],
        ['/queries?queries=99999999999999999999', 500],
      ];
      for (const [url, n] of cases) {
        const res = await inject(app, { url });
        assert.equal(res.status, 200, url);
        assert.equal(res.headers['content-type'], 'application/json');
        const rows = res.json<World[]>();
        assert.ok(Array.isArray(rows), `${url} answers an array`);
        assert.equal(rows.length, n, url);
      }
    });

    it('GET /fortunes renders the sorted, escaped table with the request-time fortune', async () => {
      const res = await inject(app, { url: '/fortunes' });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
      assert.equal(res.body, FORTUNES_HTML);
      assert.equal(Number(res.headers['content-length']), Buffer.byteLength(FORTUNES_HTML));
      // The extra fortune is added per request, never stored.
      assert.equal((await db.one<{ n: number }>`SELECT count(*) AS n FROM fortune`).n, 12);
    });

    it('GET /updates writes a new random number to each row it answers, clamped like /queries', async () => {
      const res = await inject(app, { url: '/updates?queries=15' });
      assert.equal(res.status, 200);
      const rows = res.json<World[]>();
      assert.equal(rows.length, 15);
      rows.forEach(assertWorld);
      // A repeated id answers the one number stored for it.
      for (const row of rows) {
        const stored =
          await db.one<World>`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${row.id}`;
        assert.equal(stored.randomNumber, row.randomNumber, `row ${row.id} was written`);
      }
      assert.equal((await inject(app, { url: '/updates?queries=x' })).json<World[]>().length, 1);
      assert.equal((await inject(app, { url: '/updates?queries=600' })).json<World[]>().length, 500);
    });

    it('concurrent /updates all succeed (no deadlock between overlapping rows)', async () => {
      const results = await Promise.all(
        Array.from({ length: 12 }, () => inject(app, { url: '/updates?queries=20' })),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        Array(12).fill(200),
      );
    });

    it('POST /db reads each id from the database', async () => {
      const res = await inject(app, { method: 'POST', url: '/db', body: { ids: [3, 1, 3] } });
      assert.equal(res.status, 200);
      const rows = res.json<World[]>();
      assert.deepEqual(
        rows.map((r) => r.id),
        [3, 1, 3],
      );
      const stored =
        await db.one<World>`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${1}`;
      assert.deepEqual(rows[1], stored);
    });

    it('GET /users pages through users without their password hashes', async () => {
      const res = await inject(app, { url: '/users?limit=2&offset=1' });
      assert.equal(res.status, 200);
      const page = res.json<{ users: Record<string, unknown>[]; limit: number; offset: number }>();
      assert.equal(page.limit, 2);
      assert.equal(page.offset, 1);
      assert.deepEqual(
        page.users.map((u) => u.name),
        ['Bob', 'Carol'],
      );
      for (const user of page.users) {
        assert.deepEqual(Object.keys(user), ['id', 'name', 'email', 'createdAt']);
        assert.match(String(user.createdAt), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      }
      for (const url of ['/users?limit=0', '/users?limit=101', '/users?offset=-1', '/users?limit=two']) {
        const bad = await inject(app, { url });
        assert.equal(bad.status, 400, url);
        assert.equal(bad.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_VALIDATION');
      }
    });

    it('with deadlines on, GET /db and /queries answer the same rows under a route deadline', async () => {
      const timed = createServiceApp({ logger: false, db, deadlines: true });
      assertWorld((await inject(timed, { url: '/db' })).json());
      const rows = (await inject(timed, { url: '/queries?queries=3' })).json<unknown[]>();
      assert.equal(rows.length, 3);
      for (const row of rows) assertWorld(row);
    });

    it('GET /report stops at its 1 s deadline: 503, and the work stops on the database side', async () => {
      const started = performance.now();
      const res = await inject(app, { url: '/report?seconds=5' });
      const took = performance.now() - started;
      assert.equal(res.status, 503);
      assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_REQUEST_TIMEOUT');
      assert.ok(took >= 950 && took < 3000, `answered after ${Math.round(took)} ms`);
      if (db.engine === 'postgres') {
        const running = () =>
          db.query`SELECT pid FROM pg_stat_activity
                   WHERE query LIKE 'SELECT pg_sleep%' AND state = 'active' AND datname = current_database()`;
        for (let i = 0; i < 100 && (await running()).length > 0; i++)
          await new Promise((r) => setTimeout(r, 20));
        assert.equal((await running()).length, 0, 'the query was cancelled on the server');
      }
      assert.deepEqual((await inject(app, { url: '/report?seconds=0' })).json(), {
        seconds: 0,
        status: 'done',
      });
      for (const url of [
        '/report?seconds=31',
        '/report?seconds=-1',
        '/report?seconds=1.5',
        '/report?seconds=x',
      ]) {
        const bad = await inject(app, { url });
        assert.equal(bad.status, 400, url);
        assert.equal(bad.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_VALIDATION');
      }
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'weir-service-'));
suite(
  'SQLite',
  () => openServiceDatabase(`sqlite:${join(dir, 'service.db')}`),
  async () => rmSync(dir, { recursive: true, force: true }),
  false,
);

const pgSkip = await postgresSkip();
let fresh: { url: string; drop: () => Promise<void> } | undefined;
suite(
  'PostgreSQL',
  async () => {
    fresh = await freshPostgresDatabase('service');
    return openServiceDatabase(fresh.url);
  },
  async () => fresh?.drop(),
  pgSkip,
);
