/**
 * `npm start`: the reference service on embedded defaults, on http://127.0.0.1:8080
 * (PORT and HOST change the address; DATABASE_URL the database, `sqlite:./data/weir.db` by default;
 * CACHE_URL the cache, `memory:` by default, or `redis://…` / `tiered+redis://…`).
 * SIGTERM or Ctrl-C shut it down gracefully.
 */
import { type Cache, openCache } from 'weir/cache';
import type { Database } from 'weir/db';
import { createServiceApp } from './app.ts';
import { openServiceDatabase } from './database.ts';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

let db: Database;
let cache: Cache;
try {
  db = await openServiceDatabase(process.env.DATABASE_URL);
  // A Redis that is down does not stop the start: the cache runs degraded and recovers by itself.
  cache = await openCache(process.env.CACHE_URL);
} catch (err) {
  // Misconfiguration is one readable line, not a stack trace.
  process.stderr.write(`weir: cannot start: ${(err as Error).message}\n`);
  process.exit(1);
}
const app = createServiceApp({ db, cache });
await app.listen({ port, host });
