import { App, HttpError, json } from 'weir';
import { openDatabase } from 'weir/db';

export const db = await openDatabase(process.env.DATABASE_URL);
await db.execScript(`CREATE TABLE IF NOT EXISTS member (
  email TEXT PRIMARY KEY,
  age INTEGER NOT NULL CHECK (age BETWEEN 0 AND 150)
)`);

export const app = new App();
app.onStop(() => db.close());

// No try/catch: a second sign-up answers 409 WEIR_ERR_DB_UNIQUE_VIOLATION naming the column, an age the
// CHECK refuses 422 WEIR_ERR_DB_CONSTRAINT_VIOLATION; no body shows a value, the SQL or the table.
app.post('/members', async (ctx) => {
  const { email, age } = (await ctx.json<{ email?: unknown; age?: unknown } | null>()) ?? {};
  if (typeof email !== 'string' || email.length > 254) {
    throw HttpError.badRequest('email must be a string of at most 254 characters', { field: 'email' });
  }
  if (typeof age !== 'number') throw HttpError.badRequest('age must be a number', { field: 'age' });
  await db.exec`INSERT INTO member (email, age) VALUES (${email}, ${age})`;
  return json({ email }, 201);
});

// A mistake in the SQL (there is no table "members") answers a bare 500; the log gets the database's
// message, with a stack that points at this line.
app.get('/members/count', () => db.one`SELECT count(*) AS n FROM members`);
