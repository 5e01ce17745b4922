/**
 * pino loads with the first logger weir makes: an app given `logger: false` or a logger of its own never
 * loads it (its module graph is ~7 MB of resident memory).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordImports } from '../helpers/process.ts';

describe('the default logger: no cost when unused', { timeout: 60_000 }, () => {
  it('an app with logger: false or its own logger never loads pino; the first default logger does', async () => {
    const lines = await recordImports(new URL('../fixtures/no-logger-app.ts', import.meta.url), 'pino');
    const marks = lines.filter((l) => l.startsWith('served') || /^(import|require) pino$/.test(l));
    assert.deepEqual(
      marks,
      [
        'served without a logger',
        'served with its own logger',
        'require pino',
        'served with the default logger',
      ],
      lines.join('\n'),
    );
  });
});
