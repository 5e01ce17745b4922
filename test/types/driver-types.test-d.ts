// Type-level tests of the driver types weir/db declares itself (so that its public declarations compile
// without @types/better-sqlite3 or @types/pg): the drivers' own types must stay assignable to them, and the
// getters hand them out. `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import type BetterSqlite3 from 'better-sqlite3';
import type * as Pg from 'pg';
import type {
  PostgresClient,
  PostgresDatabase,
  PostgresPool,
  SqliteConnection,
  SqliteDatabase,
  SqliteStatement,
} from 'weir/db';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assignable<From, To> = [From] extends [To] ? true : false;
function expectType<T extends true>(_ok: T): void {}

expectType<Assignable<BetterSqlite3.Database, SqliteConnection>>(true);
expectType<Assignable<BetterSqlite3.Statement<unknown[], unknown>, SqliteStatement>>(true);
expectType<Assignable<Pg.Pool, PostgresPool>>(true);
expectType<Assignable<Pg.PoolClient, PostgresClient>>(true);
expectType<Equal<SqliteDatabase['connection'], SqliteConnection>>(true);
expectType<Equal<PostgresDatabase['pool'], PostgresPool>>(true);

export function userFunctions(db: SqliteDatabase): number {
  // A typed user function registers as it does with better-sqlite3's own types.
  db.connection.function('twice', (n: number) => n * 2);
  const row = db.connection.prepare('SELECT twice(?) AS n').get(21) as { n: number };
  // @ts-expect-error: the connection is the documented slice, not an untyped bag
  db.connection.loadExtension('x');
  return row.n;
}

export async function listen(db: PostgresDatabase): Promise<void> {
  const client = await db.pool.connect();
  client.on('notification', (message) => {
    expectType<Equal<typeof message.channel, string>>(true);
  });
  await client.query('LISTEN jobs');
  client.release();
}
