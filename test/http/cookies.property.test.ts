/**
 * Properties of cookies: what weir serialises parses back unchanged, signatures verify only untouched
 * values under the right name and secret, no `Cookie` header throws or reaches a prototype, and no
 * argument, however hostile, yields a `Set-Cookie` value Node would refuse to send.
 */
import assert from 'node:assert/strict';
import { validateHeaderValue } from 'node:http';
import { test } from 'node:test';
import fc from 'fast-check';
import { App, isWeirError } from 'weir';
import { inject } from 'weir/testing';
import { parseCookies, serializeCookie, signCookie, unsignCookie } from '../../src/http/cookies.ts';

// RFC 6265 cookie-name: any printable ASCII but separators; `cookie` also refuses only ";" and "=".
const cookieName = fc.string({
  unit: fc.constantFrom(..."abcXYZ019!#$%&'*+-.^_`|~".split('')),
  minLength: 1,
  maxLength: 8,
});
const value = fc.string({ unit: 'grapheme', maxLength: 16 });
const secret = fc.string({ unit: 'grapheme-ascii', minLength: 16, maxLength: 24 });
const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 16 }),
  fc.string({ unit: 'grapheme', maxLength: 16 }),
);

/** The `name=value` pair at the head of a `Set-Cookie` line. */
const pairOf = (line: string): string => line.slice(0, line.indexOf(';'));

const prototypeKeys = (): string[] => Object.getOwnPropertyNames(Object.prototype).sort();

test('serializeCookie then parseCookies gives back every value; for a repeated name the first wins', () => {
  const jar = fc.array(fc.tuple(cookieName, value), { minLength: 1, maxLength: 6 });
  fc.assert(
    fc.property(jar, (cookies) => {
      const header = cookies.map(([n, v]) => pairOf(serializeCookie(n, v, undefined, []))).join('; ');
      const parsed = parseCookies(header);
      for (const [n] of cookies) assert.equal(parsed[n], cookies.find(([m]) => m === n)![1], n);
      assert.deepEqual(Object.keys(parsed).sort(), [...new Set(cookies.map(([n]) => n))].sort());
    }),
    { numRuns: 500 },
  );
});

test('unsignCookie returns what signCookie signed, with the signing secret anywhere in the list', () => {
  fc.assert(
    fc.property(cookieName, value, secret, secret, (name, v, key, other) => {
      const signed = signCookie(name, v, key);
      assert.equal(unsignCookie(name, signed, [key]), v);
      assert.equal(unsignCookie(name, signed, [other, key]), v);
      if (other !== key) assert.equal(unsignCookie(name, signed, [other]), undefined);
    }),
    { numRuns: 300 },
  );
});

const edit = fc.oneof(
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    char: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    char: fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), char: fc.constant('') }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(), char: fc.constant('') }),
);

function applyEdit(text: string, { kind, at, char }: { kind: string; at: number; char: string }): string {
  const i = text.length === 0 ? 0 : at % (text.length + (kind === 'insert' ? 1 : 0));
  if (kind === 'replace') return text.slice(0, i) + char + text.slice(i + 1);
  if (kind === 'insert') return text.slice(0, i) + char + text.slice(i);
  if (kind === 'delete') return text.slice(0, i) + text.slice(i + 1);
  return text.slice(0, i);
}

test('a signed value that was edited anywhere, or moved to another name, never verifies', () => {
  fc.assert(
    fc.property(
      cookieName,
      cookieName,
      value,
      secret,
      fc.array(edit, { minLength: 1, maxLength: 3 }),
      (name, otherName, v, key, edits) => {
        const signed = signCookie(name, v, key);
        const tampered = edits.reduce(applyEdit, signed);
        if (tampered !== signed)
          assert.equal(unsignCookie(name, tampered, [key]), undefined, JSON.stringify(tampered));
        if (otherName !== name) assert.equal(unsignCookie(otherName, signed, [key]), undefined);
      },
    ),
    { numRuns: 1000 },
  );
});

test('strings that were never signed do not verify', () => {
  fc.assert(
    fc.property(cookieName, anyString, secret, (name, text, key) => {
      assert.equal(unsignCookie(name, text, [key]), undefined);
    }),
    { numRuns: 500 },
  );
});

const hostileHeader = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        ';',
        '=',
        ' ',
        '\t',
        '"',
        ',',
        '%',
        '%E0%A4%A',
        '%00',
        '__proto__',
        'constructor',
        'prototype',
        'toString',
        '\u0000',
        '\r\n',
        '\uD800',
      ),
      anyString,
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

test('parseCookies never throws on a hostile header, returns strings, and changes no prototype', () => {
  const before = prototypeKeys();
  fc.assert(
    fc.property(hostileHeader, (header) => {
      const parsed = parseCookies(header);
      assert.equal(Object.prototype.isPrototypeOf.call(Object.prototype, parsed), false);
      for (const key of Object.keys(parsed)) assert.equal(typeof parsed[key], 'string');
    }),
    { numRuns: 1000 },
  );
  assert.deepEqual(prototypeKeys(), before);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('ctx.cookies and ctx.signedCookie() never throw on a header Node accepts', async () => {
  const app = new App({ logger: false, cookieSecrets: ['0123456789abcdef-secret'] });
  app.get('/', (ctx) => ({
    count: Object.keys(ctx.cookies).length,
    signed: ctx.signedCookie('__proto__') ?? ctx.signedCookie('s') ?? null,
  }));
  // What Node lets into a header value: HTAB, SP to "~", and obs-text (0x80-0xFF).
  const wire = hostileHeader.map((h) => h.replace(/[^\t\x20-\x7e\x80-\xff]/g, '').trim());
  await fc.assert(
    fc.asyncProperty(wire, async (cookie) => {
      const res = await inject(app, { headers: { cookie } });
      assert.equal(res.status, 200, cookie);
      assert.equal(res.json<{ signed: unknown }>().signed, null);
    }),
    { numRuns: 200 },
  );
});

test('serializeCookie never yields a header Node would refuse: it returns printable ASCII or throws WEIR_ERR_INVALID_OPTION', () => {
  const options = fc.record(
    {
      path: anyString,
      domain: fc.oneof(anyString, fc.constantFrom('example.com', '.example.com', 'ex ample.com')),
      sameSite: fc.constantFrom('lax', 'strict', 'none', 'bogus' as 'lax'),
      maxAgeSeconds: fc.oneof(fc.integer(), fc.double()),
      expires: fc.date({ noInvalidDate: false }),
      signed: fc.boolean(),
      httpOnly: fc.boolean(),
      secure: fc.boolean(),
      partitioned: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(cookieName, anyString), anyString, options, (name, v, opts) => {
      let line: string;
      try {
        line = serializeCookie(name, v, opts, ['0123456789abcdef-secret']);
      } catch (err) {
        assert.ok(isWeirError(err), `not a WeirError: ${String(err)}`);
        assert.equal(err.code, 'WEIR_ERR_INVALID_OPTION');
        return;
      }
      assert.match(line, /^[\x20-\x7e]*$/);
      validateHeaderValue('set-cookie', line);
      assert.equal(pairOf(`${line};`).split('=', 1)[0], name);
    }),
    { numRuns: 1000 },
  );
});

test('a signed cookie set by ctx.cookie() reads back through ctx.signedCookie(), for any value', async () => {
  const app = new App({ logger: false, cookieSecrets: ['0123456789abcdef-secret'] });
  app.get('/set', (ctx) => {
    ctx.cookie(String(ctx.query.name), String(ctx.query.value), { signed: true });
  });
  app.get('/get', (ctx) => ({ value: ctx.signedCookie(String(ctx.query.name)) ?? null }));
  await fc.assert(
    fc.asyncProperty(cookieName, value, async (name, v) => {
      const query = new URLSearchParams({ name, value: v }).toString();
      const set = await inject(app, { url: `/set?${query}` });
      assert.equal(set.status, 204);
      const pair = pairOf((set.headers['set-cookie'] as string[])[0]!);
      const get = await inject(app, { url: `/get?${query}`, headers: { cookie: pair } });
      assert.deepEqual(get.json(), { value: v });
    }),
    { numRuns: 150 },
  );
});
