/**
 * Properties of path routing: the router agrees with a plain reference model on every path, however
 * hostile, and the app decodes params exactly as `decodeURIComponent` does, or answers 400.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { App } from 'weir';
import { inject } from 'weir/testing';
import { Router } from '../../src/http/router.ts';

type Segment = { kind: 'static'; text: string } | { kind: 'param'; name: string } | { kind: 'wildcard' };

/** A registered route as the reference model sees it. */
interface Model {
  readonly pattern: string;
  readonly segments: readonly Segment[];
}

const RANK = { static: 0, param: 1, wildcard: 2 } as const;

/**
 * The reference: match segment by segment (a param takes one non-empty segment, `*` the rest, even
 * empty), and among the matches pick the one whose kinds, read left to right, come first in the order
 * static < param < wildcard.
 */
function referenceFind(
  routes: readonly Model[],
  path: string,
): { pattern: string; params: Record<string, string> } | undefined {
  const parts = path.slice(1).split('/');
  let best: { ranks: number[]; pattern: string; params: Record<string, string> } | undefined;
  for (const route of routes) {
    const params: Record<string, string> = {};
    const ranks: number[] = [];
    let ok = true;
    for (let i = 0; i < route.segments.length && ok; i++) {
      const segment = route.segments[i]!;
      ranks.push(RANK[segment.kind]);
      if (segment.kind === 'wildcard') {
        ok = parts.length > i;
        params['*'] = parts.slice(i).join('/');
        break;
      }
      const part = parts[i];
      if (part === undefined) ok = false;
      else if (segment.kind === 'static') ok = part === segment.text;
      else if (part === '') ok = false;
      else params[segment.name] = part;
    }
    const last = route.segments.at(-1);
    if (!ok || (last?.kind !== 'wildcard' && parts.length !== route.segments.length)) continue;
    if (best === undefined || compareRanks(ranks, best.ranks) < 0)
      best = { ranks, pattern: route.pattern, params };
  }
  return best === undefined ? undefined : { pattern: best.pattern, params: best.params };
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

// Few distinct texts and names, so generated routes share prefixes and compete for the same paths.
const staticText = fc.constantFrom('a', 'b', 'users', 'me', 'files', '..', '%41', 'é', '');
const paramName = fc.constantFrom('id', 'name', 'x');
const segment: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 3, arbitrary: staticText.map((text) => ({ kind: 'static', text }) as const) },
  { weight: 2, arbitrary: paramName.map((name) => ({ kind: 'param', name }) as const) },
);
const routeShape = fc
  .tuple(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([segments, wildcard]): Segment[] => (wildcard ? [...segments, { kind: 'wildcard' }] : segments));

function patternOf(segments: readonly Segment[]): string {
  return `/${segments.map((s) => (s.kind === 'static' ? s.text : s.kind === 'param' ? `:${s.name}` : '*')).join('/')}`;
}

/** Registers what the router accepts (it refuses duplicate names and clashing param names). */
function build(shapes: readonly Segment[][]): { router: Router<string>; models: Model[] } {
  const router = new Router<string>();
  const models: Model[] = [];
  for (const segments of shapes) {
    const pattern = patternOf(segments);
    try {
      router.add('GET', pattern, pattern);
    } catch (err) {
      assert.match(String((err as { code?: string }).code), /^WEIR_ERR_ROUTE_(INVALID|CONFLICT)$/);
      continue;
    }
    models.push({ pattern, segments });
  }
  router.seal();
  return { router, models };
}

/** A path that the route's own shape matches, with the param values it should yield. */
function pathArbitrary(segments: readonly Segment[]): fc.Arbitrary<string> {
  const paramValue = fc
    .string({ unit: 'binary', minLength: 1, maxLength: 6 })
    .map((s) => s.replaceAll('/', '_') || 'v');
  const parts = segments.map((s) =>
    s.kind === 'static'
      ? fc.constant(s.text)
      : s.kind === 'param'
        ? paramValue
        : fc.string({ unit: 'binary', maxLength: 10 }),
  );
  return fc.tuple(...parts).map((values) => `/${values.join('/')}`);
}

const hostilePiece = fc.oneof(
  fc.constantFrom(
    '/',
    '//',
    '..',
    '.',
    '%',
    '%00',
    '\u0000',
    '%2f',
    '%2e%2e',
    'é',
    '\u{1F600}',
    '\uD800',
    '?',
    '#',
  ),
  staticText,
  fc.string({ unit: 'binary', maxLength: 4 }),
);
const hostilePath = fc.array(hostilePiece, { maxLength: 8 }).map((pieces) => `/${pieces.join('')}`);

function same(found: ReturnType<Router<string>['find']>, expected: ReturnType<typeof referenceFind>): void {
  if (expected === undefined) {
    assert.equal(found, undefined);
    return;
  }
  assert.notEqual(found, undefined);
  assert.equal(found!.entry.pattern, expected.pattern);
  assert.deepEqual({ ...found!.params }, expected.params);
}

test('every registered route matches the paths made for it, and the router picks what the model picks', () => {
  const scenario = fc.array(routeShape, { minLength: 1, maxLength: 8 }).chain((shapes) =>
    fc.tuple(
      fc.constant(shapes),
      fc.nat(shapes.length - 1).chain((i) => pathArbitrary(shapes[i]!)),
    ),
  );
  fc.assert(
    fc.property(scenario, ([shapes, path]) => {
      const { router, models } = build(shapes);
      const expected = referenceFind(models, path);
      same(router.find(path), expected);
    }),
    { numRuns: 1500 },
  );
});

test('a route alone gets exactly the params its path carries', () => {
  const scenario = routeShape.chain((segments) => fc.tuple(fc.constant(segments), pathArbitrary(segments)));
  fc.assert(
    fc.property(scenario, ([segments, path]) => {
      const { router, models } = build([segments]);
      if (models.length === 0) return; // a pattern that declares a name twice is refused at registration
      const found = router.find(path);
      assert.equal(found?.entry.pattern, patternOf(segments));
      const expected = referenceFind(models, path);
      assert.deepEqual({ ...found!.params }, expected!.params);
    }),
    { numRuns: 1000 },
  );
});

test('hostile paths (%, NUL, unicode, lone surrogates, .., //) never throw and match only what the model matches', () => {
  fc.assert(
    fc.property(fc.array(routeShape, { minLength: 1, maxLength: 8 }), hostilePath, (shapes, path) => {
      const { router, models } = build(shapes);
      same(router.find(path), referenceFind(models, path));
    }),
    { numRuns: 1500 },
  );
});

test('a static segment beats a param, which beats the wildcard, whatever the registration order', () => {
  const order = fc.shuffledSubarray(['/p/lit', '/p/:x', '/p/*'], { minLength: 3, maxLength: 3 });
  const rest = fc.string({ unit: 'binary', maxLength: 8 });
  fc.assert(
    fc.property(order, rest, (patterns, tail) => {
      const router = new Router<string>();
      for (const pattern of patterns) router.add('GET', pattern, pattern);
      router.seal();
      assert.equal(router.find('/p/lit')?.entry.pattern, '/p/lit');
      const segment = tail.replaceAll('/', '');
      const expected = segment === '' ? '/p/*' : segment === 'lit' ? '/p/lit' : '/p/:x';
      assert.equal(router.find(`/p/${segment}`)?.entry.pattern, expected);
      assert.equal(router.find(`/p/${segment}/${tail}`)?.entry.pattern, '/p/*');
      assert.equal(router.find('/p')?.entry.pattern, undefined);
    }),
    { numRuns: 300 },
  );
});

// The injector parses the URL as a browser would, so "." and ".." segments never reach the app through it.
const notDotSegment = (s: string): boolean => s !== '.' && s !== '..';
const wellFormed = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).filter(notDotSegment);

test('params and the wildcard arrive decoded exactly as decodeURIComponent decodes them', async () => {
  const app = new App({ logger: false });
  app.get('/p/:a/:b', (ctx) => ({ a: ctx.params.a, b: ctx.params.b }));
  app.get('/w/*', (ctx) => ({ rest: ctx.params['*'] }));
  await fc.assert(
    fc.asyncProperty(wellFormed, wellFormed, fc.array(wellFormed, { maxLength: 4 }), async (a, b, rest) => {
      const params = await inject(app, { url: `/p/${encodeURIComponent(a)}/${encodeURIComponent(b)}` });
      assert.equal(params.status, 200);
      assert.deepEqual(params.json(), { a, b });
      const wildcard = await inject(app, { url: `/w/${rest.map(encodeURIComponent).join('/')}` });
      assert.equal(wildcard.status, 200);
      assert.deepEqual(wildcard.json(), { rest: rest.join('/') });
    }),
    { numRuns: 200 },
  );
});

test('a param with malformed percent-encoding answers 400 WEIR_ERR_BAD_REQUEST, any other is decoded', async () => {
  const app = new App({ logger: false });
  app.get('/p/:a/end', (ctx) => ({ a: ctx.params.a }));
  const raw = fc
    .array(
      fc.constantFrom('%', '%2', '%25', '%C3', '%A9', '%C3%A9', '%E0%A4%A', '%ZZ', '%00', 'x', 'A', '9', 'F'),
      {
        minLength: 1,
        maxLength: 6,
      },
    )
    .map((parts) => parts.join(''));
  await fc.assert(
    fc.asyncProperty(raw, async (segment) => {
      let decoded: string | undefined;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        decoded = undefined;
      }
      const res = await inject(app, { url: `/p/${segment}/end` });
      if (decoded === undefined) {
        assert.equal(res.status, 400, segment);
        assert.equal(res.json<{ error: { code: string } }>().error.code, 'WEIR_ERR_BAD_REQUEST');
      } else {
        assert.equal(res.status, 200, segment);
        assert.deepEqual(res.json(), { a: decoded });
      }
    }),
    { numRuns: 200 },
  );
});
