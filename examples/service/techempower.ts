/**
 * The TechEmpower database tests, to the letter of their rules
 * (https://github.com/TechEmpower/FrameworkBenchmarks/wiki/Project-Information-Framework-Tests-Overview):
 * random ids from 1 to 10,000; `queries` parsed as an integer and clamped to 1…500, anything else → 1;
 * every row read with its own query; fortunes sorted and escaped on each request.
 */
import { type App, gather, html, type Middleware } from 'weir';
import type { Cache } from 'weir/cache';
import type { Database, Queryable } from 'weir/db';

export const WORLD_SIZE = 10_000;

export interface World {
  id: number;
  randomNumber: number;
}

interface Fortune {
  id: number;
  message: string;
}

const randomId = (): number => 1 + Math.floor(Math.random() * WORLD_SIZE);

/** The `queries` rule: an integer clamped to 1…500; missing or unparsable → 1. */
export function queriesParam(value: string | undefined): number {
  const n = Number.parseInt(value ?? '', 10);
  if (Number.isNaN(n) || n < 1) return 1;
  return n > 500 ? 500 : n;
}

function readWorld(db: Queryable, id: number): Promise<World> {
  return db.one<World>`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${id}`;
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string);
}

function fortunesPage(fortunes: Fortune[]): string {
  let rows = '';
  for (const f of fortunes) rows += `<tr><td>${f.id}</td><td>${escapeHtml(f.message)}</td></tr>`;
  return `<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>${rows}</table></body></html>`;
}

/** Writes new random numbers in one statement. Ids are sorted so that concurrent updates lock rows in one order. */
function writeWorlds(db: Database, worlds: World[]): Promise<unknown> {
  const sorted = [...new Map(worlds.map((w) => [w.id, w.randomNumber])).entries()].sort(
    (a, b) => a[0] - b[0],
  );
  if (db.engine === 'postgres') {
    const ids = sorted.map(([id]) => id);
    const numbers = sorted.map(([, n]) => n);
    return db.exec`
      UPDATE world SET randomnumber = u.n
      FROM (SELECT unnest(${ids}::int[]) AS id, unnest(${numbers}::int[]) AS n) AS u
      WHERE world.id = u.id`;
  }
  // SQLite: the pairs travel as one JSON parameter.
  return db.exec`
    UPDATE world SET randomnumber = u.n
    FROM (SELECT value ->> 0 AS id, value ->> 1 AS n FROM json_each(${sorted})) AS u
    WHERE world.id = u.id`;
}

/** How long a World row stays in the cache for /cached-queries. */
export const WORLD_TTL_MS = 60_000;

// Every row's key made once: a lookup by a string the cache has seen hashes nothing and compares pointers.
const worldKeys = Array.from({ length: WORLD_SIZE + 1 }, (_, id) => `world:${id}`);
const worldKey = (id: number): string => worldKeys[id] ?? `world:${id}`;

/** Adds GET /db, /queries, /fortunes, /updates and /cached-queries (through `cache()`). */
export function addTechEmpowerRoutes(
  app: App,
  db: Database,
  cache: () => Cache,
  options: { deadlines?: boolean; pageHeaders?: Middleware } = {},
): void {
  if (options.deadlines === true) {
    addDeadlineRoutes(app, db);
  } else {
    app.get('/db', () => readWorld(db, randomId()));

    // Point lookups of well under a millisecond, passed no signal nor deadline: the TechEmpower routes as
    // their rules have them. DEADLINES=on serves the variant below; bench/deadlines.mjs measures the two.
    app.get('/queries', (ctx) => {
      const count = queriesParam(ctx.query.queries);
      return gather(Array.from({ length: count }, () => () => readWorld(db, randomId())));
    });
  }

  const pageHeaders: Middleware = options.pageHeaders ?? ((_ctx, next) => next());
  app.get('/fortunes', pageHeaders, async () => {
    const fortunes = await db.query<Fortune>`SELECT id, message FROM fortune`;
    fortunes.push({ id: 0, message: 'Additional fortune added at request time.' });
    fortunes.sort((a, b) => (a.message < b.message ? -1 : a.message > b.message ? 1 : 0));
    return html(fortunesPage(fortunes));
  });

  app.get('/updates', async (ctx) => {
    const count = queriesParam(ctx.query.queries);
    const worlds = await gather(Array.from({ length: count }, () => () => readWorld(db, randomId())));
    // An id drawn twice gets one new number, so that every row answered is what was stored.
    const numbers = new Map<number, number>();
    for (const world of worlds) {
      const n = numbers.get(world.id) ?? randomId();
      numbers.set(world.id, n);
      world.randomNumber = n;
    }
    await writeWorlds(db, worlds);
    return worlds;
  });

  // Rows through the cache: one round trip for every key (getMany), then a single-flight load per miss.
  app.get('/cached-queries', async (ctx) => {
    const count = queriesParam(ctx.query.count);
    const ids = Array.from({ length: count }, randomId);
    const store = cache();
    const found = await store.getMany<World>(ids.map(worldKey));
    // Warm, every row is a hit: the rows themselves (read-only, shared), with no promise per row.
    if (!found.includes(undefined)) return found;
    return Promise.all(
      found.map(
        (world, i) =>
          world ??
          store.wrap(worldKey(ids[i] as number), () => readWorld(db, ids[i] as number), {
            ttl: WORLD_TTL_MS,
          }),
      ),
    );
  });
}

/** The route deadline of /db and /queries with DEADLINES=on. */
export const DEADLINE_MS = 5000;

/**
 * /db and /queries under a route deadline, every query given `ctx`: cancelled (on PostgreSQL, on the
 * server) when the client leaves or the deadline passes, and not started past it.
 */
function addDeadlineRoutes(app: App, db: Database): void {
  app.get('/db', { timeoutMs: DEADLINE_MS }, (ctx) => readWorld(db.with(ctx), randomId()));
  app.get('/queries', { timeoutMs: DEADLINE_MS }, (ctx) => {
    const count = queriesParam(ctx.query.queries);
    const q = db.with(ctx);
    return gather(Array.from({ length: count }, () => () => readWorld(q, randomId())));
  });
}
