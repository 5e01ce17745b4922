/**
 * docs/db.md: each example behaves as the guide says, on SQLite in a temporary folder; the notes example
 * runs on PostgreSQL too, with its own migrations, when the server is there.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { App } from 'weir';
import { type Database, migrate, QueryError } from 'weir/db';
import { inject } from 'weir/testing';
import { capturingLogger } from '../db/log-capture.ts';
import { freshPostgresDatabase, postgresSkip } from '../helpers/services.ts';

type Example = { app: App; db: Database };
type ErrorBody = { error: { code: string; message: string; details?: unknown } };
const codeOf = (res: { json<T>(): T }) => res.json<ErrorBody>().error.code;

const dir = mkdtempSync(join(tmpdir(), 'weir-docs-db-'));
const migrations = fileURLToPath(new URL('../../examples/docs/db/migrations', import.meta.url));

/** Imports an example on its own database: a fresh instance per `instance` name. */
async function load(name: string, url: string, instance = 'sqlite'): Promise<Example> {
  process.env.DATABASE_URL = url;
  try {
    const href = new URL(`../../examples/docs/db/${name}.ts?${instance}`, import.meta.url).href;
    return (await import(href)) as Example;
  } finally {
    delete process.env.DATABASE_URL;
  }
}

const loaded: Example[] = [];
after(async () => {
  for (const { app } of loaded) await app.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function notesBehave({ app }: Example): Promise<void> {
  const created = await inject(app, { method: 'POST', url: '/notes', body: { title: 'first' } });
  assert.equal(created.status, 201);
  assert.deepEqual(created.json(), { id: 1, title: 'first' });
  assert.deepEqual((await inject(app, { url: '/notes/1' })).json(), { id: 1, title: 'first' });
  assert.deepEqual((await inject(app, { url: '/notes' })).json(), [{ id: 1, title: 'first' }]);
  const duplicate = await inject(app, { method: 'POST', url: '/notes', body: { title: 'first' } });
  assert.equal(duplicate.status, 409);
  assert.deepEqual(duplicate.json(), {
    error: {
      code: 'WEIR_ERR_DB_UNIQUE_VIOLATION',
      message: 'A row with the same title already exists',
      details: { fields: ['title'] },
    },
  });
  assert.equal(codeOf(await inject(app, { url: '/notes/2' })), 'WEIR_ERR_DB_NOT_FOUND');
  assert.equal((await inject(app, { method: 'DELETE', url: '/notes/1' })).status, 204);
  assert.equal((await inject(app, { method: 'DELETE', url: '/notes/1' })).status, 404);
}

describe('docs/db.md', () => {
  let notes: Example;
  let transfers: Example;
  let errors: Example;
  before(async () => {
    notes = await load('notes', `sqlite:${join(dir, 'notes.db')}`);
    transfers = await load('transfers', `sqlite:${join(dir, 'transfers.db')}`);
    errors = await load('errors', `sqlite:${join(dir, 'errors.db')}`);
    loaded.push(notes, transfers, errors);
  });

  it('notes: queries, one() and its 404, exec() counts, a duplicate answers 409 naming the column', async () => {
    await notesBehave(notes);
  });

  it('notes: hostile ids and titles are refused with 400 before any query', async () => {
    for (const id of ['x', '0', '-1', '1.5', '9007199254740993', '%00', '1%0d%0a']) {
      const res = await inject(notes.app, { url: `/notes/${id}` });
      assert.equal(res.status, 400, id);
      assert.deepEqual(res.json<ErrorBody>().error.details, { field: 'id' });
    }
    for (const body of [
      'null',
      '[]',
      '{"title":3}',
      '{"title":""}',
      JSON.stringify({ title: 'x'.repeat(201) }),
    ]) {
      const res = await inject(notes.app, {
        method: 'POST',
        url: '/notes',
        body,
        headers: { 'content-type': 'application/json' },
      });
      assert.equal(res.status, 400, body);
    }
  });

  it('notes: migrations are applied once; a second run skips them', async () => {
    assert.deepEqual(await migrate(notes.db, { dir: migrations }), {
      applied: [],
      skipped: ['001_note.sql'],
    });
  });

  it('notes: behind a transaction, 100 queries wait, one more gets 503 at once, and an aborted one is withdrawn', async () => {
    const { db, app } = notes;
    let release = (): void => {};
    const held = db.transaction(() => new Promise<void>((resolve) => (release = resolve)));
    // Each call joins the line for the connection before it returns.
    const gone = new AbortController();
    const withdrawn = db.with(gone).exec`INSERT INTO note (title) VALUES (${'withdrawn'})`;
    const waiting = Array.from(
      { length: 99 },
      (_, i) => db.exec`INSERT INTO note (title) VALUES (${`waiting ${i}`})`,
    );
    const refused = await inject(app, { url: '/notes' });
    assert.equal(refused.status, 503);
    assert.equal(codeOf(refused), 'WEIR_ERR_DB_UNAVAILABLE');
    assert.equal(refused.headers['retry-after'], '1');
    gone.abort(new Error('the client left'));
    await assert.rejects(withdrawn, /the client left/);
    release();
    await held;
    for (const { rowCount } of await Promise.all(waiting)) assert.equal(rowCount, 1);
    assert.equal(await db.maybeOne`SELECT id FROM note WHERE title = ${'withdrawn'}`, undefined);
  });

  it('transfers: all or nothing; a savepoint rolls back only its own insert', async () => {
    const { app } = transfers;
    const post = (url: string, body: unknown) => inject(app, { method: 'POST', url, body });
    const balance = async (id: number) =>
      (await inject(app, { url: `/accounts/${id}` })).json<{ balance: number }>().balance;
    assert.deepEqual((await post('/accounts', { ids: [1, 2] })).json(), { created: [1, 2] });
    assert.deepEqual((await post('/accounts', { ids: [2, 3] })).json(), { created: [3] });
    assert.deepEqual((await post('/transfers', { from: 1, to: 2, amount: 30 })).json(), {
      from: 1,
      to: 2,
      amount: 30,
    });
    assert.deepEqual([await balance(1), await balance(2)], [70, 130]);
    const overdraft = await post('/transfers', { from: 1, to: 2, amount: 300 });
    assert.equal(overdraft.status, 422);
    assert.equal(codeOf(overdraft), 'WEIR_ERR_DB_CONSTRAINT_VIOLATION');
    const nowhere = await post('/transfers', { from: 1, to: 9, amount: 10 });
    assert.equal(codeOf(nowhere), 'WEIR_ERR_DB_NOT_FOUND');
    assert.deepEqual(
      [await balance(1), await balance(2)],
      [70, 130],
      'neither failed transfer kept anything',
    );
    for (const body of [
      { from: 1, to: 2 },
      { from: 1, to: 2, amount: -5 },
      { from: '1', to: 2, amount: 1 },
      null,
    ]) {
      assert.equal((await post('/transfers', body)).status, 400, JSON.stringify(body));
    }
    assert.equal((await post('/accounts', { ids: [4, 'x'] })).status, 400);
    assert.equal((await inject(app, { url: '/accounts/4' })).status, 404, 'a refused batch creates nothing');
  });

  it('errors: the client gets the code and the column; the log gets the cause, no value and no SQL', async () => {
    const { app, db } = errors;
    const post = (body: unknown) => inject(app, { method: 'POST', url: '/members', body });
    assert.equal((await post({ email: 'ada@example.com', age: 36 })).status, 201);
    const again = await post({ email: 'ada@example.com', age: 36 });
    assert.equal(again.status, 409);
    assert.doesNotMatch(again.body, /ada@example\.com|member|INSERT/);
    assert.deepEqual(again.json<ErrorBody>().error.details, { fields: ['email'] });
    const old = await post({ email: 'old@example.com', age: 151 });
    assert.equal(old.status, 422);
    assert.doesNotMatch(old.body, /151|BETWEEN|member/);
    const refusal = await db.exec`INSERT INTO member (email, age) VALUES (${'ada@example.com'}, ${1})`.then(
      () => assert.fail('a duplicate was inserted'),
      (err: unknown) => err as Error & { engineCode?: string; sql?: string; params?: unknown[] },
    );
    assert.ok(refusal.cause instanceof Error);
    assert.equal(refusal.engineCode, 'SQLITE_CONSTRAINT_PRIMARYKEY');
    assert.match(refusal.sql!, /INSERT INTO member/);
    assert.deepEqual(refusal.params, ['ada@example.com', 1]);
    assert.doesNotMatch(
      JSON.stringify(refusal),
      /ada@example\.com|INSERT/,
      'values and SQL stay out of logs',
    );
  });

  it('errors: a mistake in the SQL is a bare 500; the log gets the message and the line that made the query', async () => {
    // The root app's logger handles the errors of the apps mounted on it.
    const log = capturingLogger();
    const root = new App({ logger: log });
    const logged = await load('errors', `sqlite:${join(dir, 'errors-log.db')}`, 'logged');
    loaded.push(logged);
    root.route('/api', logged.app);
    const res = await inject(root, { url: '/api/members/count' });
    const requestId = String(res.headers['x-request-id']);
    assert.equal(
      res.body,
      `{"error":{"code":"WEIR_ERR_INTERNAL","message":"Internal Server Error","requestId":"${requestId}"}}`,
    );
    const entry = log.entries.find((e) => e.level === 'error');
    const err = (entry?.obj as { err?: unknown } | undefined)?.err;
    assert.ok(err instanceof QueryError);
    assert.equal(err.code, 'WEIR_ERR_DB_QUERY');
    assert.match(err.message, /no such table: members/);
    assert.match(err.stack ?? '', /examples\/docs\/db\/errors\.ts:\d+/);
  });

  it('notes on PostgreSQL: the same code and its postgres migrations behave the same', async (t) => {
    const skip = await postgresSkip();
    if (skip) return t.skip(skip);
    const database = await freshPostgresDatabase('docs');
    try {
      const example = await load('notes', database.url, 'postgres');
      try {
        await notesBehave(example);
      } finally {
        await example.app.stop();
      }
    } finally {
      await database.drop();
    }
  });
});
