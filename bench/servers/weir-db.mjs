// weir with the reference service's four TechEmpower database routes and nothing else, for bench/db.mjs:
// the routes of examples/service/techempower.ts, in JavaScript, on weir's compiled build (run `npm run build`
// at the repo root first), on DATABASE_URL with DB_POOL connections.
//
//   WEIR_DB_CANCEL unset  the routes as the reference service has them: no signal on the point lookups
//   WEIR_DB_CANCEL=signal ctx.signal is made (read once per request) but no query gets it: what the request's
//                         AbortSignal alone costs (a Node 20 AbortSignal takes ~5.8 µs to make, Node 24's 0.4 µs)
//   WEIR_DB_CANCEL=1      every query gets the request's signal, as the service's POST /db does: gather()
//                         under ctx.signal hands each lookup its signal (db.with({ signal })), the single
//                         queries run on db.with(ctx); a client that leaves cancels what still runs

import { openDatabase } from '../../dist/db/index.js';
import { App, gather, html } from '../../dist/index.js';

const port = Number(process.env.PORT ?? 3000);
const cancel = process.env.WEIR_DB_CANCEL === '1';
const WORLD_SIZE = 10_000;

const db = await openDatabase(process.env.DATABASE_URL, { max: Number(process.env.DB_POOL ?? 16) });

const randomId = () => 1 + Math.floor(Math.random() * WORLD_SIZE);

/** The `queries` rule: an integer clamped to 1…500; missing or unparsable → 1. */
function queriesParam(value) {
  const n = Number.parseInt(value ?? '', 10);
  if (Number.isNaN(n) || n < 1) return 1;
  return n > 500 ? 500 : n;
}

const readWorld = (q, id) => q.one`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${id}`;

/** `count` rows read concurrently, as techempower.ts does, or each lookup under the request's signal. */
const readWorlds = cancel
  ? (ctx, count) =>
      gather(
        Array.from({ length: count }, () => (signal) => readWorld(db.with({ signal }), randomId())),
        { signal: ctx.signal },
      )
  : (_ctx, count) => gather(Array.from({ length: count }, () => () => readWorld(db, randomId())));

/** What a single query runs on: the database, or a view of it under the request's signal. */
const signalOnly = process.env.WEIR_DB_CANCEL === 'signal';
/** Makes the request's signal (as any code that reads it does) and answers the database itself. */
function madeSignal(ctx) {
  if (ctx.signal.aborted) throw ctx.signal.reason;
  return db;
}
const on = cancel ? (ctx) => db.with(ctx) : signalOnly ? madeSignal : () => db;

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

function fortunesPage(fortunes) {
  let rows = '';
  for (const f of fortunes) rows += `<tr><td>${f.id}</td><td>${escapeHtml(f.message)}</td></tr>`;
  return `<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>${rows}</table></body></html>`;
}

// The service's App: default options (its logger at LOG_LEVEL, no middleware).
const app = new App(process.env.WEIR_OVERLOAD === 'off' ? { overload: false } : {});
app.onStop(() => db.close());

app.get('/db', (ctx) => readWorld(on(ctx), randomId()));

app.get('/queries', (ctx) => readWorlds(ctx, queriesParam(ctx.query.queries)));

app.get('/fortunes', async (ctx) => {
  const fortunes = await on(ctx).query`SELECT id, message FROM fortune`;
  fortunes.push({ id: 0, message: 'Additional fortune added at request time.' });
  fortunes.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
  return html(fortunesPage(fortunes));
});

app.get('/updates', async (ctx) => {
  const worlds = await readWorlds(ctx, queriesParam(ctx.query.queries));
  // An id drawn twice gets one new number, so that every row answered is what was stored.
  const numbers = new Map();
  for (const world of worlds) {
    const n = numbers.get(world.id) ?? randomId();
    numbers.set(world.id, n);
    world.randomNumber = n;
  }
  const sorted = [...numbers.entries()].sort((a, b) => a[0] - b[0]);
  const ids = sorted.map(([id]) => id);
  const values = sorted.map(([, n]) => n);
  await on(ctx).exec`
      UPDATE world SET randomnumber = u.n
      FROM (SELECT unnest(${ids}::int[]) AS id, unnest(${values}::int[]) AS n) AS u
      WHERE world.id = u.id`;
  return worlds;
});

await app.listen({ port, host: '127.0.0.1' });
console.log(`weir-db (cancellation ${cancel ? 'on' : 'off'}) listening on http://127.0.0.1:${port}`);
