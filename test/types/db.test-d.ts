// Type-level tests of weir/db: `tsc --noEmit` (run by `npm test`) fails if any of these stops holding.
import { App } from 'weir';
import type { Database, ExecResult, Queryable } from 'weir/db';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(_ok: T): void {}

interface World {
  id: number;
  randomNumber: number;
}

export async function typed(db: Database): Promise<void> {
  const id = 1;
  expectType<Equal<Awaited<ReturnType<typeof db.one<World>>>, World>>(true);
  const rows = await db.query<World>`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${id}`;
  expectType<Equal<typeof rows, World[]>>(true);
  const maybe = await db.maybeOne<World>`SELECT * FROM world WHERE id = ${id}`;
  expectType<Equal<typeof maybe, World | undefined>>(true);
  const untyped = await db.query`SELECT 1`;
  expectType<Equal<typeof untyped, Record<string, unknown>[]>>(true);
  expectType<Equal<Awaited<ReturnType<typeof db.exec>>, ExecResult>>(true);

  // Parameters are values SQL can store; undefined, functions and symbols do not compile.
  await db.query`SELECT ${'text'}, ${1}, ${1n}, ${true}, ${null}, ${new Date()}, ${new Uint8Array(1)}, ${[1, 2]}, ${{ a: 1 }}`;
  // @ts-expect-error: undefined is not a SQL value (write null)
  await db.query`SELECT ${undefined}`;
  // @ts-expect-error: a function is not a SQL value
  await db.query`SELECT ${() => 1}`;
  // @ts-expect-error: a symbol is not a SQL value
  await db.query`SELECT ${Symbol('x')}`;

  // A transaction's value is the function's; tx has the same methods.
  const n = await db.transaction(async (tx) => {
    expectType<Equal<typeof tx, Queryable>>(true);
    return (await tx.exec`DELETE FROM world`).rowCount;
  });
  expectType<Equal<typeof n, number>>(true);

  // A request context is a valid signal source.
  new App().get('/w/:id', (ctx) => db.with(ctx).one<World>`SELECT * FROM world WHERE id = ${ctx.params.id}`);
}
