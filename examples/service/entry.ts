/**
 * The reference service as an ENTRY for the `weir` command: opens what it needs from the environment
 * (DATABASE_URL, CACHE_URL, QUEUE_URL) and exports the App without serving it.
 * `weir worker examples/service/entry.ts` runs its welcome-email worker alone (`npm run worker`).
 */
import { openCache } from 'weir/cache';
import { openJobQueue } from 'weir/queue';
import { createServiceApp } from './app.ts';
import { openServiceDatabase } from './database.ts';
import { WELCOME_QUEUE, type WelcomeJob } from './jobs.ts';

const db = await openServiceDatabase(process.env.DATABASE_URL);
// A Redis that is down does not stop the start: the cache runs degraded and recovers by itself.
const cache = await openCache(process.env.CACHE_URL);
const queue = await openJobQueue<WelcomeJob>(WELCOME_QUEUE, { url: process.env.QUEUE_URL });

export const app = createServiceApp({ db, cache, queue });
/** What the service runs on, for its startup line (each `url` has its password redacted). */
export const backends = { database: db.url, cache: cache.url, queue: queue.url };
export default app;
