/**
 * Properties of `Range` and `If-Range`: a parsed range always lies inside the file, agrees with the
 * RFC 9110 reading of `bytes=first-last`, and no header throws; `If-Range` lets a range through only on a
 * strong validator, so a weak ETag never yields a 206.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { App, serveStatic } from 'weir';
import { inject } from 'weir/testing';
import { ifRangeMatches } from '../../src/http/caching.ts';
import { parseRange } from '../../src/http/static.ts';

type Parsed = ReturnType<typeof parseRange>;

/** RFC 9110 §14.1.2 for one range-spec: `undefined` ignores the header, `null` is unsatisfiable (416). */
function model(first: number | undefined, last: number | undefined, size: number): Parsed {
  if (first === undefined && last === undefined) return undefined;
  if (first === undefined) {
    if (last === 0 || size === 0) return null;
    return { start: Math.max(0, size - last!), end: size - 1 };
  }
  if (last !== undefined && last < first) return undefined;
  if (first >= size) return null;
  return { start: first, end: last === undefined ? size - 1 : Math.min(last, size - 1) };
}

const size = fc.oneof(fc.nat(64), fc.maxSafeNat());
const position = fc.oneof(fc.nat(80), fc.maxSafeNat());
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(arb, { nil: undefined });
const zeros = fc.constantFrom('', '0', '000');
const blank = fc.constantFrom('', ' ', '\t');

const unit = fc.constantFrom('bytes', 'Bytes', 'BYTES');

test('bytes=first-last parses as RFC 9110 reads it: any unit case, leading zeros, surrounding blanks', () => {
  fc.assert(
    fc.property(
      maybe(position),
      maybe(position),
      size,
      zeros,
      blank,
      unit,
      (first, last, n, pad, ws, bytes) => {
        const spell = (x: number | undefined): string => (x === undefined ? '' : `${pad}${x}`);
        const header = `${ws}${bytes}=${spell(first)}-${spell(last)}${ws}`;
        assert.deepEqual(parseRange(header, n), model(first, last, n));
      },
    ),
    { numRuns: 2000 },
  );
});

const hostileRange = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc
    .array(
      fc.oneof(
        fc.constantFrom(
          'bytes=',
          'Bytes=',
          'items=',
          '-',
          ',',
          ' ',
          '=',
          '0',
          '9'.repeat(30),
          '9'.repeat(400),
          '1e3',
          '0x10',
          '+1',
          '-0',
          '\u0660',
          '\uFF11',
          '\u0000',
        ),
        fc.nat().map(String),
      ),
      { maxLength: 8 },
    )
    .map((parts) => parts.join('')),
);

test('any Range header, against any size, never throws and gives undefined, null or a range inside the file', () => {
  fc.assert(
    fc.property(hostileRange, size, (header, n) => {
      const parsed = parseRange(header, n);
      if (parsed === undefined || parsed === null) return;
      assert.ok(
        Number.isSafeInteger(parsed.start) && Number.isSafeInteger(parsed.end),
        JSON.stringify(parsed),
      );
      assert.ok(
        0 <= parsed.start && parsed.start <= parsed.end && parsed.end < n,
        `${header} ${n} ${JSON.stringify(parsed)}`,
      );
    }),
    { numRuns: 3000 },
  );
});

const LAST_MODIFIED_MS = Date.parse('2024-01-02T03:04:05Z');
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$/;

/** If-Range values near the validators: the tags in both forms, the date and its neighbours, and noise. */
function ifRangeCandidates(etag: string, lastModified: string, modifiedMs: number): fc.Arbitrary<string> {
  return fc.oneof(
    fc.constantFrom(
      etag,
      etag.replace(/^W\//, ''),
      `W/${etag}`,
      `${etag}, ${lastModified}`,
      lastModified,
      ` ${lastModified}`,
      lastModified.toLowerCase(),
    ),
    fc.integer({ min: -3000, max: 3000 }).map((ms) => new Date(modifiedMs + ms).toUTCString()),
    fc.integer({ min: -2, max: 2 }).map((s) => new Date(modifiedMs + s * 1000).toISOString()),
    fc.string({ unit: 'binary', maxLength: 32 }),
  );
}

test('with a weak ETag, If-Range matches exactly when it is the Last-Modified date and that second is over', () => {
  const scenario = fc
    .record({
      modifiedMs: fc.integer({ min: 0, max: 4_102_444_800_000 }),
      nowOffsetMs: fc.integer({ min: -5000, max: 5000 }),
      size: fc.nat(1_000_000),
    })
    .chain(({ modifiedMs, nowOffsetMs, size }) => {
      const etag = `W/"${size.toString(16)}-${modifiedMs.toString(16)}"`;
      const lastModified = new Date(modifiedMs).toUTCString();
      return fc.tuple(
        fc.constant({ etag, lastModified, modifiedMs, nowMs: modifiedMs + nowOffsetMs }),
        ifRangeCandidates(etag, lastModified, modifiedMs),
      );
    });
  fc.assert(
    fc.property(scenario, ([validators, header]) => {
      const expected =
        header === validators.lastModified &&
        IMF_FIXDATE.test(header) &&
        Math.floor(validators.nowMs / 1000) > Math.floor(validators.modifiedMs / 1000);
      assert.equal(ifRangeMatches(header, validators), expected, header);
    }),
    { numRuns: 2000 },
  );
});

test('with a strong ETag, If-Range matches that exact tag, never its weak form or another', () => {
  const tag = fc
    .string({ unit: fc.constantFrom(...'abc019-_'.split('')), maxLength: 8 })
    .map((t) => `"${t}"`);
  fc.assert(
    fc.property(
      tag,
      fc.oneof(
        tag,
        tag.map((t) => `W/${t}`),
        fc.string({ unit: 'binary', maxLength: 12 }),
      ),
      (etag, header) => {
        const validators = { etag, lastModified: undefined, modifiedMs: 0, nowMs: LAST_MODIFIED_MS };
        assert.equal(ifRangeMatches(header, validators), header === etag);
      },
    ),
    { numRuns: 1000 },
  );
});

let base: string;
let app: App;
const FILES = new Map<string, string>();

before(() => {
  base = mkdtempSync(join(tmpdir(), 'weir-range-'));
  const past = new Date(LAST_MODIFIED_MS);
  for (const length of [0, 1, 2, 17, 1000]) {
    const content = Array.from({ length }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const name = `f${length}.txt`;
    writeFileSync(join(base, name), content);
    utimesSync(join(base, name), past, past);
    FILES.set(name, content);
  }
  app = new App({ logger: false });
  app.get('/s/*', serveStatic(base));
});
after(() => rmSync(base, { recursive: true, force: true }));

const file = fc.constantFrom('f0.txt', 'f1.txt', 'f2.txt', 'f17.txt', 'f1000.txt');
const rangeHeader = fc.oneof(
  fc.tuple(maybe(fc.nat(1100)), maybe(fc.nat(1100))).map(([a, b]) => `bytes=${a ?? ''}-${b ?? ''}`),
  hostileRange.map((h) => h.replace(/[^\t\x20-\x7e]/g, '').trim()),
);

test('served ranges are the exact bytes asked for, with Content-Range and Content-Length that agree', async () => {
  await fc.assert(
    fc.asyncProperty(file, rangeHeader, async (name, range) => {
      const content = FILES.get(name)!;
      const res = await inject(app, { url: `/s/${name}`, headers: { range } });
      const expected = parseRange(range, content.length);
      if (expected === null) {
        assert.equal(res.status, 416, range);
        assert.equal(res.headers['content-range'], `bytes */${content.length}`);
      } else if (expected === undefined) {
        assert.equal(res.status, 200, range);
        assert.equal(res.body, content);
      } else {
        assert.equal(res.status, 206, range);
        assert.equal(res.body, content.slice(expected.start, expected.end + 1));
        assert.equal(
          res.headers['content-range'],
          `bytes ${expected.start}-${expected.end}/${content.length}`,
        );
        assert.equal(Number(res.headers['content-length']), expected.end - expected.start + 1);
      }
    }),
    { numRuns: 200 },
  );
});

test('If-Range with the ETag, or anything but the exact Last-Modified, yields the whole file, never a 206', async () => {
  const first = await inject(app, { url: '/s/f1000.txt' });
  const etag = String(first.headers.etag);
  const lastModified = String(first.headers['last-modified']);
  const header = ifRangeCandidates(etag, lastModified, LAST_MODIFIED_MS).map((h) =>
    h.replace(/[^\t\x20-\x7e]/g, '').trim(),
  );
  await fc.assert(
    fc.asyncProperty(header, fc.nat(999), async (ifRange, start) => {
      const res = await inject(app, {
        url: '/s/f1000.txt',
        headers: { range: `bytes=${start}-`, 'if-range': ifRange },
      });
      if (ifRange === lastModified) {
        assert.equal(res.status, 206);
        assert.equal(res.body, FILES.get('f1000.txt')!.slice(start));
      } else {
        assert.equal(res.status, 200, ifRange);
        assert.equal(res.body, FILES.get('f1000.txt'));
      }
    }),
    { numRuns: 200 },
  );
});
