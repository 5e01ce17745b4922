import { App, HttpError, json } from 'weir';
import { openDatabase } from 'weir/db';

// DATABASE_URL picks the engine: sqlite:./data/weir.db when unset, or postgres://user@host/db.
const db = await openDatabase(process.env.DATABASE_URL);
await db.execScript('CREATE TABLE IF NOT EXISTS note (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)');

export const app = new App();
app.onStop(() => db.close());

// Values are always parameters. No row: 404 WEIR_ERR_DB_NOT_FOUND. Client gone: the query is cancelled.
app.get(
  '/notes/:id',
  (ctx) => db.with(ctx).one`SELECT id, body FROM note WHERE id = ${Number(ctx.params.id)}`,
);

// A duplicate body answers 409 WEIR_ERR_DB_UNIQUE_VIOLATION, with no try/catch here.
app.post('/notes', async (ctx) => {
  const { body } = (await ctx.json<{ body?: unknown } | null>()) ?? {};
  if (typeof body !== 'string') throw HttpError.badRequest('body must be a string');
  return json(await db.one`INSERT INTO note (body) VALUES (${body}) RETURNING id, body`, 201);
});

// All or nothing: the transaction rolls back if any insert fails.
app.post('/notes/batch', async (ctx) => {
  const { bodies } = (await ctx.json<{ bodies?: unknown } | null>()) ?? {};
  if (!Array.isArray(bodies) || !bodies.every((b) => typeof b === 'string')) {
    throw HttpError.badRequest('bodies must be a list of strings');
  }
  return db.transaction(async (tx) => {
    for (const body of bodies) await tx.exec`INSERT INTO note (body) VALUES (${body})`;
    return { inserted: bodies.length };
  });
});
