import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

describe('CHANGELOG.md', () => {
  it('is what the fragments in changes/ make (node scripts/changelog.mjs rebuilds it)', () => {
    const script = fileURLToPath(new URL('../scripts/changelog.mjs', import.meta.url));
    const result = spawnSync(process.execPath, [script, '--check'], { encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
  });
});
