// A live dashboard for the people who run the service, at /_dashboard: only for logged-in users with the
// `ops` role (sessions as in security.md), showing the database, cache and queue it is given.
import { App } from 'weir';
import { openCache } from 'weir/cache';
import { openDatabase } from 'weir/db';
import { dashboard } from 'weir/observability';
import { openJobQueue } from 'weir/queue';
import { openSessionStore, requireAuth, session } from 'weir/security';

const db = await openDatabase(process.env.DATABASE_URL ?? 'sqlite::memory:');
const cache = await openCache('memory:');
const emails = await openJobQueue<{ to: string }>('emails', { url: process.env.QUEUE_URL });
const store = await openSessionStore(db);

export const app = new App();
export const sessions = session({ store });

export const live = dashboard(app, {
  // Runs before the page, its files and its event stream: 401 without a login, 403 without the role.
  guard: [sessions, requireAuth({ roles: ['ops'] })],
  databases: { main: db },
  caches: { main: cache },
  queues: { emails },
});

app.onStop(() => emails.close());
app.onStop(() => cache.close());
app.onStop(() => store.close());
app.onStop(() => db.close());
