import { fileURLToPath } from 'node:url';
import { App, HttpError, json } from 'weir';
import { migrate, openDatabase } from 'weir/db';

// DATABASE_URL picks the engine: sqlite:./data/weir.db when unset, or postgres://user:pass@host:5432/db.
export const db = await openDatabase(process.env.DATABASE_URL, {
  maxWaiting: 100, // queries waiting for a connection; one more is refused at once with 503
  acquireTimeoutMs: 2000, // how long one may wait before it is refused with 503
  cancelTimeoutMs: 5000, // PostgreSQL: a cancel request slower than this closes its connection
});
// Applies ./migrations/<engine>/*.sql not applied yet: in name order, each once, in its own transaction.
await migrate(db, { dir: fileURLToPath(new URL('./migrations', import.meta.url)) });

export const app = new App();
app.onStop(() => db.close()); // waits for running queries, then closes

interface Note {
  id: number;
  title: string;
}

function noteId(param: string): number {
  if (!/^[1-9]\d{0,14}$/.test(param)) {
    throw HttpError.badRequest('id must be a positive integer', { field: 'id' });
  }
  return Number(param);
}

// Values travel as parameters, never inside the SQL text. db.with(ctx): stopped when the client leaves.
app.get('/notes', (ctx) => db.with(ctx).query<Note>`SELECT id, title FROM note ORDER BY id LIMIT ${20}`);

// one(): exactly one row, or 404 WEIR_ERR_DB_NOT_FOUND. maybeOne() resolves undefined instead.
app.get('/notes/:id', (ctx) => {
  return db.with(ctx).one<Note>`SELECT id, title FROM note WHERE id = ${noteId(ctx.params.id)}`;
});

app.post('/notes', async (ctx) => {
  const { title } = (await ctx.json<{ title?: unknown } | null>()) ?? {};
  if (typeof title !== 'string' || title === '' || title.length > 200) {
    throw HttpError.badRequest('title must be 1 to 200 characters', { field: 'title' });
  }
  const note = await db.with(ctx).one<Note>`INSERT INTO note (title) VALUES (${title}) RETURNING id, title`;
  return json(note, 201);
});

// exec(): the rows a statement touched.
app.delete('/notes/:id', async (ctx) => {
  const { rowCount } = await db.with(ctx).exec`DELETE FROM note WHERE id = ${noteId(ctx.params.id)}`;
  if (rowCount === 0) throw HttpError.notFound('No such note');
  return undefined;
});
