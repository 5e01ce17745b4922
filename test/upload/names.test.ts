import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanFilename } from 'weir/upload';

/** A small seeded generator (mulberry32), so a failure names the input that made it. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ALPHABET = [
  'a',
  'Z',
  '0',
  '.',
  ' ',
  '/',
  '\\',
  ':',
  '\u0000',
  '\n',
  '\u202e',
  '\u200b',
  '\ufeff',
  'é',
  '😀',
  '..',
  '<',
  '"',
];

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not be left.
const FORBIDDEN = /[/\\\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff<>:"|?*]/u;

describe('cleanFilename()', () => {
  it('keeps plain names, and takes the last segment of a path', () => {
    assert.equal(cleanFilename('report 2024.pdf'), 'report 2024.pdf');
    assert.equal(cleanFilename('../../etc/passwd'), 'passwd');
    assert.equal(cleanFilename('C:\\Users\\ann\\cv.docx'), 'cv.docx');
    assert.equal(cleanFilename('/'), '');
    assert.equal(cleanFilename(undefined), '');
    assert.equal(cleanFilename('e\u0301t\u00e9.txt'), '\u00e9t\u00e9.txt', 'NFC');
  });

  it('never yields a separator, a control or bidirectional character, a dot name, or more than 200 characters', () => {
    const next = random(26);
    for (let i = 0; i < 2000; i++) {
      const length = Math.floor(next() * 400);
      let name = '';
      for (let j = 0; j < length; j++) name += ALPHABET[Math.floor(next() * ALPHABET.length)];
      const clean = cleanFilename(name);
      const shown = JSON.stringify(name);
      assert.doesNotMatch(clean, FORBIDDEN, shown);
      assert.ok(clean.length <= 200, `${shown} gave ${clean.length} characters`);
      assert.ok(clean !== '.' && clean !== '..' && !clean.startsWith('.') && !clean.endsWith(' '), shown);
      assert.doesNotMatch(
        clean,
        /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/,
        `${shown} gave a lone surrogate`,
      );
    }
  });
});
