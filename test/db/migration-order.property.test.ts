import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { inNameOrder } from '../../src/db/migrations.ts';

const byCollator = (names: string[]): string[] =>
  [...names].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));

// Migration file names as people write them (`0001_init.sql`, `2-users.sql`, `10.seed.sql`), and others.
const numbered = fc
  .tuple(
    fc.integer({ min: 0, max: 99_999 }),
    fc.nat({ max: 4 }),
    fc.constantFrom('_', '-', '.'),
    fc.stringMatching(/^[\w.-]{0,12}$/),
  )
  .map(([n, zeros, sep, rest]) => `${'0'.repeat(zeros)}${n}${sep}${rest}.sql`);
const any = fc.stringMatching(/^[\w.-]{1,16}$/).map((name) => `${name}.sql`);

describe('migrations: name order', () => {
  it('numbered names sort by their numbers, as the numeric collator sorts them', () => {
    fc.assert(
      fc.property(fc.uniqueArray(numbered, { maxLength: 30 }), (names) => {
        assert.deepEqual(inNameOrder([...names]), byCollator(names));
      }),
      { numRuns: 500 },
    );
  });

  it('any other names (a shared number, no number, mixed case) in the numeric collator order', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.oneof(numbered, any), { maxLength: 30 }), (names) => {
        assert.deepEqual(inNameOrder([...names]), byCollator(names));
      }),
      { numRuns: 500 },
    );
    assert.deepEqual(inNameOrder(['10_b.sql', '2_a.sql', '1_c.sql']), ['1_c.sql', '2_a.sql', '10_b.sql']);
    assert.deepEqual(inNameOrder(['1_b.sql', '01_a.sql']), byCollator(['1_b.sql', '01_a.sql']));
  });
});
