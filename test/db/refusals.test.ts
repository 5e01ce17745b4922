/**
 * The parsers that read which columns a constraint refusal names, out of the engines' own wording.
 * Their promise: the columns, or nothing; never a value, whatever the value holds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { postgresKeyColumns, postgresRefusal, refusalMessage, sqliteRefusal } from '../../src/db/refusals.ts';

const identifier = fc.stringMatching(/^[a-z_][a-z0-9_]{0,20}$/);
// Anything a value may be: quotes, parentheses, commas, `)=(`, CR/LF, NUL, beyond U+00FF, long.
const value = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom('a)=(b', '), (', '"', '\r\nX: 1', '\u0000', '𝄞☃', 'x'.repeat(10_000)),
);
const SAFE = /^[\p{L}_][\p{L}\p{N}_$]*$/u;

describe('postgresKeyColumns', () => {
  test('reads the column list of "Key (…)=(…) …", whatever the values hold', () => {
    fc.assert(
      fc.property(
        fc.array(identifier, { minLength: 1, maxLength: 5 }),
        fc.array(value, { minLength: 1 }),
        (columns, values) => {
          const detail = `Key (${columns.join(', ')})=(${values.join(', ')}) already exists.`;
          assert.deepEqual(postgresKeyColumns(detail), columns);
        },
      ),
    );
  });

  test('unquotes quoted names, and gives up on expressions and odd names', () => {
    assert.deepEqual(postgresKeyColumns('Key ("Email", "a""b")=(x, y) already exists.'), undefined);
    assert.deepEqual(postgresKeyColumns('Key ("Email", tenant_id)=(x, 1) already exists.'), [
      'Email',
      'tenant_id',
    ]);
    assert.equal(postgresKeyColumns('Key (lower(email::text))=(a@b) already exists.'), undefined);
    assert.equal(postgresKeyColumns('Key ("two words")=(x) already exists.'), undefined);
    assert.equal(postgresKeyColumns(`Key (${'a'.repeat(64)})=(x) already exists.`), undefined);
    assert.equal(postgresKeyColumns('Failing row contains (1, secret).'), undefined);
    assert.equal(postgresKeyColumns(undefined), undefined);
  });

  test('on any text at all, answers plain identifiers or nothing, and never throws', () => {
    fc.assert(
      fc.property(value, value, (a, b) => {
        for (const detail of [a, `Key (${a})=(${b})`, `Key (${a}`]) {
          const columns = postgresKeyColumns(detail);
          if (columns !== undefined) for (const column of columns) assert.match(column, SAFE);
        }
      }),
    );
  });
});

describe('postgresRefusal', () => {
  test('tells a missing reference from a row still referred to', () => {
    assert.deepEqual(
      postgresRefusal({
        code: '23503',
        detail: 'Key (owner)=(4) is not present in table "secret".',
        table: 't',
      }),
      { kind: 'missing-reference', columns: ['owner'], table: 't', constraint: undefined },
    );
    assert.equal(
      postgresRefusal({ code: '23503', detail: 'Key (id)=(4) is still referenced from table "secret".' })
        ?.kind,
      'still-referenced',
    );
    assert.deepEqual(postgresRefusal({ code: '23502', column: 'k' })?.columns, ['k']);
    assert.equal(
      postgresRefusal({ code: '23514', detail: 'Failing row contains (secret).' })?.columns,
      undefined,
    );
    assert.equal(postgresRefusal({ code: '42P01' }), undefined);
  });
});

describe('sqliteRefusal', () => {
  test('reads the columns without the table, whatever the message carries after them', () => {
    assert.deepEqual(
      sqliteRefusal('SQLITE_CONSTRAINT_UNIQUE', 'UNIQUE constraint failed: secret.k, secret.j'),
      {
        kind: 'unique',
        columns: ['k', 'j'],
        table: 'secret',
      },
    );
    assert.deepEqual(
      sqliteRefusal('SQLITE_CONSTRAINT_NOTNULL', 'NOT NULL constraint failed: secret.k')?.columns,
      ['k'],
    );
    assert.deepEqual(
      sqliteRefusal('SQLITE_CONSTRAINT_UNIQUE', "UNIQUE constraint failed: index 'secret_idx'"),
      {
        kind: 'unique',
        columns: undefined,
        constraint: "'secret_idx'",
      },
    );
    assert.deepEqual(sqliteRefusal('SQLITE_CONSTRAINT_CHECK', 'CHECK constraint failed: score >= 0'), {
      kind: 'check',
      columns: undefined,
      constraint: 'score >= 0',
    });
    assert.deepEqual(sqliteRefusal('SQLITE_CONSTRAINT_FOREIGNKEY', 'FOREIGN KEY constraint failed'), {
      kind: 'reference',
      columns: undefined,
    });
    assert.equal(sqliteRefusal('SQLITE_ERROR', 'no such table: secret'), undefined);
  });

  test('on any message, answers plain identifiers or nothing', () => {
    fc.assert(
      fc.property(value, (message) => {
        for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_CONSTRAINT_NOTNULL']) {
          for (const text of [message, `UNIQUE constraint failed: ${message}`]) {
            const columns = sqliteRefusal(code, text)?.columns;
            if (columns !== undefined) for (const column of columns) assert.match(column, SAFE);
          }
        }
      }),
    );
  });
});

describe('refusalMessage', () => {
  test('names the columns it is given and nothing else', () => {
    assert.equal(refusalMessage({ kind: 'unique', columns: ['k'] }), 'A row with the same k already exists');
    assert.equal(
      refusalMessage({ kind: 'unique', columns: ['a', 'b', 'c'] }),
      'A row with the same a, b and c already exists',
    );
    assert.equal(
      refusalMessage({ kind: 'unique', columns: undefined, table: 'secret', constraint: 'secret_key' }),
      'A row with the same key already exists',
    );
    assert.equal(refusalMessage({ kind: 'not-null', columns: ['k'] }), 'k must not be null');
    assert.equal(
      refusalMessage({ kind: 'check', columns: undefined, constraint: 'secret' }),
      'A value was refused by a CHECK constraint',
    );
  });
});
