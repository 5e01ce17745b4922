/**
 * `npm start`: the reference service on embedded defaults, on http://127.0.0.1:8080, with its
 * welcome-email worker in the same process. PORT and HOST change the address; DATABASE_URL the database
 * (`sqlite:./data/weir.db` by default); CACHE_URL the cache (`memory:`, or `redis://…` /
 * `tiered+redis://…`); QUEUE_URL the job queue (`sqlite:./data/queue.db`).
 * SIGTERM or Ctrl-C shut it down gracefully.
 */
import type { App } from 'weir';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '127.0.0.1';

let app: App;
try {
  ({ app } = await import('./entry.ts'));
} catch (err) {
  // Misconfiguration is one readable line, not a stack trace.
  process.stderr.write(`weir: cannot start: ${(err as Error).message}\n`);
  process.exit(1);
}
await app.listen({ port, host });
