/**
 * Properties of the JSON body reader (`parseJson`): it agrees with `JSON.parse` on every JSON text up to
 * 64 levels deep, refuses prototype-poisoning keys however they are escaped, and answers any other
 * input with an HttpError of status 4xx, never another kind of error; a text and its UTF-8 bytes alike.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isHttpError } from 'weir';
import { parseJson } from '../../src/http/body.ts';

type Outcome = { value: unknown } | { code: string; status: number };

/**
 * What parseJson did with `text`: its value, or the code and status of the HttpError it threw; the same
 * for the text as a string and as the bytes of a body (two scanners), asserted.
 */
function outcome(text: string): Outcome {
  const fromText = attempt(text);
  const bytes = Buffer.from(text, 'utf8');
  // A lone surrogate has no UTF-8 form: its bytes are another text.
  if (bytes.toString('utf8') === text) assert.deepEqual(attempt(bytes), fromText, 'bytes and text agree');
  return fromText;
}

function attempt(body: string | Buffer): Outcome {
  try {
    return { value: parseJson(body) };
  } catch (err) {
    assert.ok(isHttpError(err), `not an HttpError: ${String(err)}`);
    assert.ok(err.status >= 400 && err.status < 500, `status ${err.status}`);
    return { code: err.code, status: err.status };
  }
}

/** True if a parsed value holds a key JSON bodies may not carry (see secure-json-parse). Iterative: inputs nest 10,000 deep. */
function poisoned(root: unknown): boolean {
  const stack = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (value === null || typeof value !== 'object') continue;
    if (Object.hasOwn(value, '__proto__')) return true;
    const ctor = (value as Record<string, unknown>).constructor;
    if (
      Object.hasOwn(value, 'constructor') &&
      ctor !== null &&
      typeof ctor === 'object' &&
      Object.hasOwn(ctor, 'prototype')
    )
      return true;
    stack.push(...Object.values(value));
  }
  return false;
}

/** How many arrays and objects deep a parsed value goes. */
function depthOf(root: unknown): number {
  let deepest = 0;
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    deepest = Math.max(deepest, depth + 1);
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/** A value nested `depth` levels deep, each level an array or a one-key object. */
const deep = fc
  .tuple(
    fc.integer({ min: 1, max: 64 }),
    fc.jsonValue({ maxDepth: 1 }),
    fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
  )
  .map(([depth, leaf, kinds]) => {
    let value: unknown = leaf;
    for (let i = 0; i < depth - 1; i++) value = kinds[i] ? [value] : { k: value };
    return value;
  });
const anyJson = fc.oneof(fc.jsonValue({ maxDepth: 6 }), deep);
const indent = fc.constantFrom(undefined, 0, 2, '\t', ' \r\n');

test('any JSON text up to 64 levels deep parses to what JSON.parse gives', () => {
  fc.assert(
    fc.property(anyJson, indent, (value, space) => {
      const text = JSON.stringify(value, null, space as string | number | undefined);
      const parsed = JSON.parse(text) as unknown;
      const result = outcome(text);
      if (poisoned(parsed)) assert.deepEqual(result, { code: 'WEIR_ERR_BODY_FORBIDDEN_KEY', status: 400 });
      else assert.deepEqual(result, { value: parsed });
    }),
    { numRuns: 500 },
  );
});

/** JSON text, cut, spliced or sprinkled with characters JSON does not allow where they land. */
const mangled = fc
  .tuple(
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.nat(),
    fc.nat(),
    fc.string({ unit: 'binary', maxLength: 4 }),
  )
  .map(([text, a, b, insert]) => {
    const i = text.length === 0 ? 0 : a % text.length;
    const j = text.length === 0 ? 0 : b % text.length;
    return text.slice(0, Math.min(i, j)) + insert + text.slice(Math.max(i, j));
  });
const hostile = fc.oneof(
  mangled,
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.constantFrom(
    '',
    ' ',
    '\uFEFF',
    '\uFEFF{}',
    '\u00a0',
    '\u2028',
    'NaN',
    'Infinity',
    '1e999',
    '-',
    '"\\ud800"',
    '{"a":1,}',
    '[1,]',
    "{'a':1}",
    '\u0000',
  ),
  fc.integer({ min: 1, max: 10_000 }).map((n) => '['.repeat(n)),
  fc.integer({ min: 1, max: 10_000 }).map((n) => `${'{"__proto__":'.repeat(n)}1${'}'.repeat(n)}`),
);

test('any other input parses as JSON.parse would or throws an HttpError with a 4xx status, never another error', () => {
  fc.assert(
    fc.property(hostile, (text) => {
      const result = outcome(text);
      let parsed: unknown;
      let valid = true;
      try {
        parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
      } catch {
        valid = false;
      }
      if (!valid || text.trim() === '') assert.ok('code' in result, JSON.stringify(text.slice(0, 80)));
      // Past 64 levels a nesting limit may refuse the text first, with its own 4xx.
      else if (depthOf(parsed) > 64 && 'code' in result) return;
      else if (poisoned(parsed)) assert.equal('code' in result && result.code, 'WEIR_ERR_BODY_FORBIDDEN_KEY');
      else assert.deepEqual(result, { value: parsed });
    }),
    { numRuns: 1000 },
  );
});

/** `name` as a JSON string whose characters are each written plainly or as \uXXXX, in either hex case. */
function spelled(name: string, escapes: readonly boolean[], upper: readonly boolean[]): string {
  const chars = [...name].map((c, i) => {
    if (!escapes[i]) return c;
    const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
    return `\\u${upper[i] ? hex.toUpperCase() : hex}`;
  });
  return `"${chars.join('')}"`;
}

/** A JSON object text with `key: inner` added next to the keys of `value`, `depth` levels down. */
function withKey(value: unknown, key: string, inner: string, depth: number, space: string): string {
  const rest = Object.entries(
    typeof value === 'object' && value !== null && !Array.isArray(value) ? value : { v: value },
  )
    .filter(([k]) => k !== '__proto__' && k !== 'constructor')
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  const own = `{${[...rest, `${key}${space}:${space}${inner}`].join(',')}}`;
  let text = own;
  for (let i = 0; i < depth; i++) text = i % 2 === 0 ? `[${text}]` : `{"k":${text}}`;
  return text;
}

const flags = fc.array(fc.boolean(), { minLength: 11, maxLength: 11 });
const space = fc.constantFrom('', ' ', '\n', '\r\n\t ');

test('a __proto__ key is refused with 400 WEIR_ERR_BODY_FORBIDDEN_KEY, however it is escaped, at any depth', () => {
  fc.assert(
    fc.property(
      fc.jsonValue({ maxDepth: 2 }),
      fc.jsonValue({ maxDepth: 2 }),
      flags,
      flags,
      fc.integer({ min: 0, max: 60 }),
      space,
      (value, inner, escapes, upper, depth, ws) => {
        const text = withKey(value, spelled('__proto__', escapes, upper), JSON.stringify(inner), depth, ws);
        assert.deepEqual(outcome(text), { code: 'WEIR_ERR_BODY_FORBIDDEN_KEY', status: 400 }, text);
      },
    ),
    { numRuns: 500 },
  );
});

test('a constructor key holding a prototype is refused; one holding anything else is data', () => {
  fc.assert(
    fc.property(
      fc.jsonValue({ maxDepth: 2 }),
      fc.jsonValue({ maxDepth: 2 }),
      flags,
      flags,
      fc.integer({ min: 0, max: 60 }),
      space,
      (value, inner, escapes, upper, depth, ws) => {
        const prototype = withKey({}, spelled('prototype', escapes, upper), JSON.stringify(inner), 0, ws);
        const refused = withKey(value, spelled('constructor', escapes, upper), prototype, depth, ws);
        assert.deepEqual(outcome(refused), { code: 'WEIR_ERR_BODY_FORBIDDEN_KEY', status: 400 }, refused);
        const plain = JSON.stringify(inner);
        // withKey() drops forbidden keys from the top of `value` only; one nested deeper is refused, rightly.
        const around = JSON.stringify(value);
        if (![plain, around].some((text) => text.includes('prototype') || text.includes('__proto__'))) {
          const allowed = withKey(value, spelled('constructor', escapes, upper), plain, depth, ws);
          assert.deepEqual(outcome(allowed), { value: JSON.parse(allowed) }, allowed);
        }
      },
    ),
    { numRuns: 500 },
  );
});
