/**
 * The Cache conformance suite: memory, Redis and tiered each run it, under a namespace of their own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import type { Cache, CacheOptions } from 'weir/cache';
import { uniqueNamespace } from '../helpers/services.ts';
import { runAddCases } from './conformance-add.ts';
import { runWrapCases } from './conformance-wrap.ts';
import { recordingLogger, type Suite } from './support.ts';

export interface CacheTarget {
  open(options: CacheOptions): Promise<Cache>;
}

export function runCacheSuite(name: string, target: CacheTarget, options: { skip: string | false }): void {
  describe(`Cache conformance: ${name}`, { skip: options.skip }, () => {
    let cache: Cache;
    const log = recordingLogger();
    const opened: Cache[] = [];
    const open = async (extra: CacheOptions = {}): Promise<Cache> => {
      const c = await target.open({ namespace: uniqueNamespace(name), logger: log, ...extra });
      opened.push(c);
      return c;
    };
    before(async () => {
      cache = await open();
    });
    after(async () => {
      for (const c of opened) {
        await c.clear().catch(() => undefined);
        await c.close();
      }
    });
    const suite: Suite = {
      get cache() {
        return cache;
      },
      log,
      open,
    };

    test('set then get round-trips JSON values; a missing key is undefined', async () => {
      const value = { id: 1, name: 'Ada', tags: ['x', 'y'], nested: { ok: true, n: null } };
      await cache.set('user:1', value);
      assert.deepEqual(await cache.get('user:1'), value);
      await cache.set('n', 0);
      await cache.set('s', '');
      await cache.set('f', false);
      assert.equal(await cache.get('n'), 0);
      assert.equal(await cache.get('s'), '');
      assert.equal(await cache.get('f'), false);
      assert.equal(await cache.get('absent'), undefined);
      assert.equal(cache.status, 'ready');
    });

    test('what a caller does to a value it passed or got never changes what the next caller gets', async () => {
      const given = { list: [1] };
      await cache.set('copy', given);
      given.list.push(2); // the caller's own object stays its own, and mutable
      const first = await cache.get<{ list: number[] }>('copy');
      try {
        first?.list.push(3);
      } catch (err) {
        // An in-process store shares one frozen value: changing it throws instead.
        assert.ok(err instanceof TypeError && cache.backend !== 'redis', String(err));
      }
      assert.deepEqual(await cache.get('copy'), { list: [1] });
      assert.deepEqual((await cache.getMany(['copy']))[0], { list: [1] });
      assert.deepEqual(await cache.wrap('copy', () => ({ list: [] })), { list: [1] });
    });

    test('frozen: in-process stores share one deep-frozen value; frozen: false gives each caller a copy', async () => {
      const value = { id: 1, tags: ['a'], nested: { deep: [{ n: 1 }] } };
      await cache.set('shared', value);
      const [a, b] = [await cache.get<typeof value>('shared'), await cache.get<typeof value>('shared')];
      const [c] = await cache.getMany<typeof value>(['shared']);
      const d = await cache.wrap('shared', () => value);
      assert.ok(a && b && c && d);
      if (cache.backend === 'redis') {
        // Redis keeps text only: each read is a copy of its own.
        assert.notEqual(a, b);
        assert.equal(Object.isFrozen(a), false);
      } else {
        assert.equal(a, b);
        assert.equal(a, c);
        assert.equal(a, d);
        assert.ok(Object.isFrozen(a) && Object.isFrozen(a.nested.deep[0]) && Object.isFrozen(a.tags));
        assert.throws(() => {
          a.tags.push('b');
        }, TypeError);
      }
      assert.equal(Object.isFrozen(value), false, 'the value given to set() is not frozen');
      const copies = await open({ frozen: false });
      await copies.set('own', value);
      const [x, y] = [await copies.get<typeof value>('own'), await copies.get<typeof value>('own')];
      assert.notEqual(x, y);
      x?.tags.push('changed');
      assert.deepEqual(await copies.get('own'), value);
      await assert.rejects(open({ frozen: 'yes' as never }), { code: 'WEIR_ERR_INVALID_OPTION' });
    });

    test('a value a custom serializer reads back as a Map is kept as a copy per read; deep values round-trip', async () => {
      const mapped = await open({
        serializer: {
          serialize: (v) => JSON.stringify([...(v as Map<string, number>)]),
          deserialize: (t) => new Map(JSON.parse(t) as [string, number][]),
        },
      });
      await mapped.set('m', new Map([['a', 1]]));
      const first = await mapped.get<Map<string, number>>('m');
      first?.set('b', 2);
      assert.deepEqual(await mapped.get('m'), new Map([['a', 1]]));
      let deep: unknown = 0;
      for (let i = 0; i < 500; i++) deep = [deep];
      await cache.set('deep', deep);
      assert.equal(JSON.stringify(await cache.get('deep')), JSON.stringify(deep));
    });

    test('getMany answers in order, undefined for misses', async () => {
      await cache.set('m:1', 'one');
      await cache.set('m:3', 'three');
      assert.deepEqual(await cache.getMany(['m:1', 'm:2', 'm:3']), ['one', undefined, 'three']);
      assert.deepEqual(await cache.getMany([]), []);
    });

    test('delete removes a key and says whether it was there', async () => {
      await cache.set('d', 1);
      assert.equal(await cache.delete('d'), true);
      assert.equal(await cache.get('d'), undefined);
      assert.equal(await cache.delete('d'), false);
    });

    test('values expire after their ttl; Infinity keeps them', async () => {
      // 300 ms: long enough that a stalled machine still reads it before it expires.
      await cache.set('short', 'v', { ttl: 300 });
      await cache.set('forever', 'v', { ttl: Number.POSITIVE_INFINITY });
      assert.equal(await cache.get('short'), 'v');
      await delay(400);
      assert.equal(await cache.get('short'), undefined);
      assert.equal(await cache.get('forever'), 'v');
    });

    test('clear(sub) removes one sub-namespace; clear() the whole namespace; other namespaces stay', async () => {
      const other = await open();
      await other.set('a:1', 'other');
      await cache.set('a:1', 1);
      await cache.set('a:2', 2);
      await cache.set('b:1', 3);
      await cache.clear('a');
      assert.deepEqual(await cache.getMany(['a:1', 'a:2', 'b:1']), [undefined, undefined, 3]);
      await cache.clear();
      assert.equal(await cache.get('b:1'), undefined);
      assert.equal(await other.get('a:1'), 'other');
    });

    runWrapCases(suite);
    runAddCases(suite);

    test('a value over maxValueBytes is passed through uncached, with one warning', async () => {
      const small = await open({ maxValueBytes: 100 });
      const before = log.warnings.length;
      const big = 'x'.repeat(500);
      assert.equal(await small.wrap('big', () => big), big);
      assert.equal(await small.wrap('big', () => big), big);
      await small.set('big2', big);
      assert.equal(await small.get('big'), undefined);
      assert.equal(await small.get('big2'), undefined);
      const warnings = log.warnings.slice(before).filter((w) => w.includes('maxValueBytes'));
      assert.equal(warnings.length, 1);
      // A too-large set replaces, not keeps, an older value of the key.
      await small.set('grow', 'small');
      await small.set('grow', big);
      assert.equal(await small.get('grow'), undefined);
    });

    test('undefined is not cached; set(undefined) is refused', async () => {
      let calls = 0;
      const loader = () => {
        calls++;
        return undefined;
      };
      assert.equal(await cache.wrap('undef', loader), undefined);
      assert.equal(await cache.wrap('undef', loader), undefined);
      assert.equal(calls, 2);
      await assert.rejects(cache.set('undef', undefined), { code: 'WEIR_ERR_INVALID_OPTION' });
    });

    test('a custom serializer is used both ways', async () => {
      const dated = await open({
        serializer: {
          serialize: (v) => JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)),
          deserialize: (t) =>
            JSON.parse(t, (_k, x) =>
              typeof x === 'string' && /^\d+n$/.test(x) ? BigInt(x.slice(0, -1)) : x,
            ),
        },
      });
      await dated.set('big', { n: 2n ** 70n });
      assert.deepEqual(await dated.get('big'), { n: 2n ** 70n });
    });

    test('keys and values are opaque: CR/LF, NUL, lone surrogates, non-Latin-1 and a 10 KB key round-trip', async () => {
      const keys = [
        'a\r\nb',
        'nul\u0000',
        '\u00ff\u0100\u20ac',
        '\u{1d11e}',
        'k'.repeat(10_000),
        '',
        'a:*?[]',
      ];
      const values = ['\r\n\u0000', '\ud800', '\u{1d11e}\u20ac', { '\u2028': ['\n'] }, -0.5, null];
      for (const [i, key] of keys.entries()) await cache.set(key, values[i % values.length]);
      const expected = keys.map((_, i) => values[i % values.length]);
      assert.deepEqual(await cache.getMany(keys), expected);
      for (const [i, key] of keys.entries()) assert.deepEqual(await cache.get(key), expected[i]);
      await cache.clear('a');
      assert.deepEqual(await cache.get('a:*?[]'), undefined);
      assert.deepEqual(await cache.get('a\r\nb'), values[0]);
    });

    test('a key that is not a string is refused with WEIR_ERR_INVALID_OPTION', async () => {
      const code = { code: 'WEIR_ERR_INVALID_OPTION' };
      await assert.rejects(cache.get(1 as never), code);
      await assert.rejects(cache.getMany(['a', null] as never), code);
      await assert.rejects(cache.set({} as never, 1), code);
      await assert.rejects(cache.delete(undefined as never), code);
      await assert.rejects(
        cache.wrap(Symbol('k') as never, () => 1),
        code,
      );
    });

    test('a value the serializer refuses (BigInt, cycle, stack overflow) is passed through uncached, with one warning', async () => {
      const own = recordingLogger();
      const strict = await open({ logger: own });
      const cyclic: { self?: unknown } = {};
      cyclic.self = cyclic;
      // A getter that reads itself overflows the stack inside JSON.stringify on every Node line (a deeply
      // nested array no longer does: Node 26 serialises 100,000 levels).
      const recursive = {
        get self(): unknown {
          return recursive.self;
        },
      };
      for (const [key, value] of [
        ['big', 1n],
        ['cycle', cyclic],
        ['overflow', recursive],
      ] as const) {
        let calls = 0;
        const loader = () => {
          calls++;
          return value;
        };
        assert.equal(await strict.wrap(key, loader), value);
        assert.equal(await strict.wrap(key, loader), value);
        assert.equal(calls, 2);
        await strict.set(key, value);
        assert.equal(await strict.get(key), undefined);
      }
      assert.deepEqual(own.warnings, [
        `cache ${strict.url}: a value could not be serialised and was not cached`,
      ]);
    });

    test('a stored value the serializer cannot read back is a miss, with one warning', async () => {
      const own = recordingLogger();
      const picky = await open({
        logger: own,
        serializer: {
          serialize: (v) => JSON.stringify(v),
          deserialize: (t) => {
            const v: unknown = JSON.parse(t);
            if (v === 'poison') throw new Error('unreadable');
            return v;
          },
        },
      });
      await picky.set('p', 'poison');
      await picky.set('ok', 'fine');
      assert.equal(await picky.get('p'), undefined);
      assert.deepEqual(await picky.getMany(['p', 'ok']), [undefined, 'fine']);
      assert.equal(await picky.wrap('p', () => 'reloaded'), 'reloaded');
      assert.equal(await picky.get('p'), 'reloaded');
      assert.deepEqual(own.warnings, [
        `cache ${picky.url}: a stored value could not be deserialised (a miss)`,
      ]);
      const stats = picky.stats();
      assert.equal(stats.misses, 3);
      assert.equal(stats.hits, 2);
    });

    test('maxValueBytes counts UTF-8 bytes, not characters', async () => {
      const small = await open({ maxValueBytes: 100 });
      const euros = '\u20ac'.repeat(40); // 42 characters serialised, 122 bytes
      await small.set('euros', euros);
      assert.equal(await small.get('euros'), undefined);
      const latin = 'a'.repeat(90);
      await small.set('latin', latin);
      assert.equal(await small.get('latin'), latin);
    });

    test('bad options and a closed cache fail with clear codes', async () => {
      await assert.rejects(cache.set('k', 1, { ttl: -1 }), { code: 'WEIR_ERR_INVALID_OPTION' });
      await assert.rejects(cache.set('k', 1, { ttl: 0 }), { code: 'WEIR_ERR_INVALID_OPTION' });
      await assert.rejects(cache.wrap('k', 'nope' as never), { code: 'WEIR_ERR_INVALID_OPTION' });
      const closing = await open();
      await closing.close();
      await assert.rejects(closing.get('k'), { code: 'WEIR_ERR_CACHE_CLOSED' });
      await assert.rejects(
        closing.wrap('k', () => 1),
        { code: 'WEIR_ERR_CACHE_CLOSED' },
      );
      opened.splice(opened.indexOf(closing), 1);
    });

    test('stats count hits, misses and loads', async () => {
      const counted = await open();
      await counted.wrap('s', () => 1);
      await counted.wrap('s', () => 1);
      await counted.get('nothing');
      const stats = counted.stats();
      assert.equal(stats.loads, 1);
      assert.equal(stats.hits, 1);
      assert.equal(stats.misses, 2);
      assert.equal(stats.status, 'ready');
    });
  });
}
