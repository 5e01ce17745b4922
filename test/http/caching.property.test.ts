/**
 * Property of the `If-None-Match` parser (`etagMatches`): a list of entity-tags matches a tag exactly
 * when one of its members is weakly equal to it (RFC 9110 §13.1.2), commas inside a tag included, and
 * no header throws.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { etagMatches } from '../../src/http/caching.ts';

// etagc (RFC 9110 §8.8.3): "!", "#" to "~", and obs-text; so "," and " " may sit inside a tag.
const opaque = fc
  .string({ unit: fc.constantFrom('a', 'b', '0', ',', ' ', '!', '#', 'W', '/', '\u00e9'), maxLength: 5 })
  .map((s) => `"${s}"`);
const entityTag = fc.tuple(fc.boolean(), opaque).map(([weak, tag]) => (weak ? `W/${tag}` : tag));
const separator = fc.constantFrom(',', ', ', ' ,', ' , ', ',\t');

const strip = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);

test('a list of entity-tags matches exactly when a member is weakly equal to the tag', () => {
  fc.assert(
    fc.property(
      fc.array(entityTag, { minLength: 1, maxLength: 5 }),
      separator,
      entityTag,
      (list, sep, tag) => {
        const header = list.join(sep);
        const expected = list.some((t) => strip(t) === strip(tag));
        assert.equal(etagMatches(header, tag), expected, `${header} vs ${tag}`);
        assert.equal(etagMatches(` ${header} `, tag), expected);
      },
    ),
    { numRuns: 2000 },
  );
});

test('"*" matches any tag, and no header throws', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 24 }), entityTag, (header, tag) => {
      const matched = etagMatches(header, tag);
      if (header.trim() === '*') assert.equal(matched, true);
      if (!header.includes(strip(tag))) assert.equal(matched, false, header);
    }),
    { numRuns: 1000 },
  );
});
