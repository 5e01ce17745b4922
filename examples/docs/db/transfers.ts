import { App, HttpError } from 'weir';
import { DatabaseError, openDatabase } from 'weir/db';

export const db = await openDatabase(process.env.DATABASE_URL);
await db.execScript(
  'CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0))',
);

export const app = new App();
app.onStop(() => db.close());

function integer(value: unknown, field: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw HttpError.badRequest(`${field} must be a positive integer`, { field });
  }
  return value as number;
}

// All or nothing: commits when the function resolves, rolls back when it throws. Query through `tx`:
// a query through `db` runs outside the transaction (on SQLite it waits for the transaction to end).
app.post('/transfers', async (ctx) => {
  const body = (await ctx.json<Record<string, unknown> | null>()) ?? {};
  const from = integer(body.from, 'from');
  const to = integer(body.to, 'to');
  const amount = integer(body.amount, 'amount');
  return db.with(ctx).transaction(async (tx) => {
    // An overdraft breaks the CHECK: 422 WEIR_ERR_DB_CONSTRAINT_VIOLATION, and nothing is kept.
    await tx.one`UPDATE account SET balance = balance - ${amount} WHERE id = ${from} RETURNING id`;
    // No such account: 404 WEIR_ERR_DB_NOT_FOUND, and the debit above is rolled back.
    await tx.one`UPDATE account SET balance = balance + ${amount} WHERE id = ${to} RETURNING id`;
    return { from, to, amount };
  });
});

app.get('/accounts/:id', (ctx) => {
  if (!/^[1-9]\d{0,14}$/.test(ctx.params.id)) {
    throw HttpError.badRequest('id must be a positive integer', { field: 'id' });
  }
  return db.with(ctx).one`SELECT id, balance FROM account WHERE id = ${Number(ctx.params.id)}`;
});

// tx.transaction() is a savepoint: when it throws, only its own work is rolled back.
app.post('/accounts', async (ctx) => {
  const { ids } = (await ctx.json<{ ids?: unknown } | null>()) ?? {};
  if (!Array.isArray(ids) || ids.length > 100) {
    throw HttpError.badRequest('ids must be a list of at most 100 ids', { field: 'ids' });
  }
  return db.transaction(async (tx) => {
    const created: number[] = [];
    for (const id of ids.map((id) => integer(id, 'ids'))) {
      try {
        await tx.transaction((sp) => sp.exec`INSERT INTO account (id, balance) VALUES (${id}, 100)`);
        created.push(id);
      } catch (err) {
        // Match on the code: an existing account is skipped, anything else rolls back the whole batch.
        if (!(err instanceof DatabaseError && err.code === 'WEIR_ERR_DB_UNIQUE_VIOLATION')) throw err;
      }
    }
    return { created };
  });
});
