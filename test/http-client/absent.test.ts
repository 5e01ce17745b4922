import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordImports } from '../helpers/process.ts';

describe('http-client: no cost when it is not used', { timeout: 60_000 }, () => {
  it('an app that loads every other entry of weir, serves and fetches never loads undici; weir/http-client does', async () => {
    const lines = await recordImports(
      new URL('../fixtures/no-http-client-app.ts', import.meta.url),
      'undici',
    );
    assert.equal(lines[0], 'served', lines.join('\n'));
    assert.equal(lines.at(-1), 'called');
    assert.deepEqual([...new Set(lines.slice(1, -1))], ['import undici']);
  });
});
