/**
 * The reference service's database: `DATABASE_URL` (default `sqlite:./data/weir.db`), its schema and
 * seed applied by the migrations next to this file, once, at start.
 */
import { fileURLToPath } from 'node:url';
import { type Database, type DatabaseOptions, migrate, openDatabase } from 'weir/db';

export const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url));

/** Opens the service's database and brings its schema up to date. */
export async function openServiceDatabase(url?: string, options?: DatabaseOptions): Promise<Database> {
  const db = await openDatabase(url, options);
  try {
    await migrate(db, { dir: MIGRATIONS_DIR });
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}
