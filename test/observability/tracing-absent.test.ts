import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordImports } from '../helpers/process.ts';

describe('tracing: no cost when it is not used', () => {
  it('an app that serves, queries, caches, runs jobs and fetches without tracing() never loads @opentelemetry/api', async () => {
    const lines = await recordImports(new URL('../fixtures/untraced-app.ts', import.meta.url));
    // Served first, with no OpenTelemetry module resolved; then tracing() loads the API, and only it.
    assert.equal(lines[0], 'served', lines.join('\n'));
    assert.equal(lines.at(-1), 'traced');
    assert.deepEqual([...new Set(lines.slice(1, -1))], ['import @opentelemetry/api']);
  });
});
