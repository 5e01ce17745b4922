/**
 * Properties of query-string parsing (`ctx.query`, `ctx.queryAll()`): what URLSearchParams encodes comes
 * back unchanged, and no raw query, however hostile, throws or reaches a prototype.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { App } from 'weir';
import { inject } from 'weir/testing';

interface Seen {
  query: Record<string, string>;
  nullPrototype: boolean;
  all: Record<string, string[]>;
}

/** Echoes what the handler saw; `names` (JSON in a header) says which names to ask queryAll() for. */
function echoApp(): App {
  const app = new App({ logger: false });
  app.get('/q', (ctx): Seen => {
    const names = JSON.parse(String(ctx.headers['x-names'] ?? '[]')) as string[];
    const all: Record<string, string[]> = {};
    for (const name of names)
      Object.defineProperty(all, name, { value: ctx.queryAll(name), enumerable: true });
    return {
      query: { ...ctx.query } as Record<string, string>,
      nullPrototype: Object.getPrototypeOf(ctx.query) === null,
      all,
    };
  });
  return app;
}

function firstValues(pairs: readonly [string, string][]): Record<string, string> {
  const first: Record<string, string> = {};
  for (const [name, value] of pairs) {
    if (!Object.hasOwn(first, name))
      Object.defineProperty(first, name, { value, enumerable: true, writable: true });
  }
  return first;
}

// Names collide often (so repeats are exercised) and include the keys that poison prototypes.
const name = fc.oneof(
  fc.constantFrom('a', 'b', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', ''),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const value = fc.string({ unit: 'grapheme', maxLength: 10 });
const pairs = fc.array(fc.tuple(name, value), { maxLength: 8 });

const prototypeKeys = (): string[] => Object.getOwnPropertyNames(Object.prototype).sort();

test('URLSearchParams-encoded names and values come back unchanged: first value in query, all in order in queryAll()', async () => {
  const app = echoApp();
  const before = prototypeKeys();
  await fc.assert(
    fc.asyncProperty(pairs, async (list) => {
      const encoded = new URLSearchParams(list).toString();
      const names = [...new Set(list.map(([n]) => n))];
      const res = await inject(app, {
        url: encoded === '' ? '/q' : `/q?${encoded}`,
        headers: { 'x-names': JSON.stringify(names) },
      });
      assert.equal(res.status, 200);
      const seen = res.json<Seen>();
      assert.equal(seen.nullPrototype, true);
      assert.deepEqual(seen.query, firstValues(list));
      for (const n of names) {
        assert.deepEqual(
          seen.all[n],
          list.filter(([m]) => m === n).map(([, v]) => v),
          n,
        );
      }
    }),
    { numRuns: 200 },
  );
  assert.deepEqual(prototypeKeys(), before);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

const hostileQuery = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '&',
        '=',
        '%',
        '%%',
        '%0',
        '%00',
        '%zz',
        '%C3',
        '%E0%A4%A',
        '+',
        '?',
        '#',
        ';',
        '\u0000',
        '\uD800',
        '\u{1F600}',
      ),
      fc.constantFrom(
        '__proto__',
        '__proto__[polluted]',
        'constructor[prototype][polluted]',
        'polluted',
        '[]',
        '[0]',
      ),
      fc.string({ unit: 'binary', maxLength: 6 }),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

test('hostile raw query strings never throw, and __proto__ or constructor keys stay plain own keys', async () => {
  const app = echoApp();
  const before = prototypeKeys();
  await fc.assert(
    fc.asyncProperty(hostileQuery, async (raw) => {
      const res = await inject(app, {
        url: `/q?${raw}`,
        headers: { 'x-names': JSON.stringify(['__proto__', 'constructor', 'polluted', '']) },
      });
      assert.equal(res.status, 200, raw);
      const seen = res.json<Seen>();
      assert.equal(seen.nullPrototype, true);
      for (const v of Object.values(seen.query)) assert.equal(typeof v, 'string');
      for (const list of Object.values(seen.all)) assert.ok(list.every((v) => typeof v === 'string'));
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    }),
    { numRuns: 200 },
  );
  assert.deepEqual(prototypeKeys(), before);
});

const PROTO = '__proto__';

test('a __proto__ or constructor query key is read as data and changes no prototype', async () => {
  const app = new App({ logger: false });
  app.get('/q', (ctx) => ({
    proto: ctx.query[PROTO] ?? null,
    ctor: ctx.query.constructor ?? null,
    toStringIsOwn: Object.hasOwn(ctx.query, 'toString'),
  }));
  await fc.assert(
    fc.asyncProperty(value, value, async (a, b) => {
      const query = new URLSearchParams([
        ['__proto__', a],
        ['constructor', b],
      ]).toString();
      const res = await inject(app, { url: `/q?${query}` });
      assert.deepEqual(res.json(), { proto: a, ctor: b, toStringIsOwn: false });
    }),
    { numRuns: 100 },
  );
});
