import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { recordImports } from '../helpers/process.ts';

describe('uploads: no cost until a multipart body comes', { timeout: 60_000 }, () => {
  it('an app with an upload route loads the multipart parser with its first multipart body, not at start', async () => {
    const lines = await recordImports(new URL('../fixtures/no-upload-app.ts', import.meta.url), 'busboy');
    assert.deepEqual(lines, ['served', 'require @fastify/busboy', 'uploaded'], lines.join('\n'));
  });
});
