import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { recordImports } from '../helpers/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-upload-absent-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('uploads: no cost until a multipart body comes', { timeout: 60_000 }, () => {
  it('an app with an upload route loads the multipart parser with its first multipart body, not at start', async () => {
    const lines = await recordImports(
      new URL('../fixtures/no-upload-app.ts', import.meta.url),
      join(dir, 'imports.log'),
      'busboy',
    );
    assert.deepEqual(lines, ['served', 'require @fastify/busboy', 'uploaded'], lines.join('\n'));
  });
});
