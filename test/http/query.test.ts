import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseQuery } from '../../src/http/query.ts';

/** What URLSearchParams makes of `raw`: the first value of each name. */
function reference(raw: string): [string, string][] {
  const out = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(raw)) if (!out.has(name)) out.set(name, value);
  return [...out].sort();
}

/** parseQuery's answer as sorted entries (an object lists integer-like keys first, whatever their order). */
const entries = (raw: string) => Object.entries(parseQuery(raw)).sort();

describe('parseQuery', () => {
  it('agrees with URLSearchParams on hand-picked strings', () => {
    const cases = [
      '',
      'a=1',
      'a=1&b=2',
      'a=1&a=2',
      'a',
      'a=',
      '=x',
      '&&a=1&&',
      'a==b',
      'a=1&b',
      '&',
      '=',
      'count=20',
      'q=%41%zz',
      'q=a+b',
      'é=ü&x=\u20ac',
      '__proto__=1&constructor=2',
      'toString=x&hasOwnProperty=y',
    ];
    for (const raw of cases) assert.deepEqual(entries(raw), reference(raw), raw);
  });

  it('agrees with URLSearchParams on 20,000 random strings of query characters', () => {
    const alphabet = 'ab=&%+2Fx\u00e9;?#';
    for (let i = 0; i < 20_000; i++) {
      let raw = '';
      const length = Math.floor(Math.random() * 12);
      for (let j = 0; j < length; j++) raw += alphabet[Math.floor(Math.random() * alphabet.length)];
      assert.deepEqual(entries(raw), reference(raw), JSON.stringify(raw));
    }
  });

  it('makes an object with no prototype: a name like __proto__ is a plain key', () => {
    const query = parseQuery('__proto__=1');
    assert.equal(Object.getPrototypeOf(query), null);
    assert.equal(query.__proto__, '1');
  });
});
