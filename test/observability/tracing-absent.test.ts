import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spawnNode } from '../helpers/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-tracing-absent-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('tracing: no cost when it is not used', () => {
  it('an app that serves, queries, caches, runs jobs and fetches without tracing() never loads @opentelemetry/api', async () => {
    const log = join(dir, 'imports.log');
    const child = spawnNode(
      [
        '--conditions=weir-source',
        '--import',
        'tsx',
        '--import',
        new URL('../fixtures/imports/record.mjs', import.meta.url).pathname,
        new URL('../fixtures/untraced-app.ts', import.meta.url).pathname,
      ],
      { WEIR_IMPORT_LOG: log, LOG_LEVEL: 'silent' },
    );
    assert.equal(await child.exited(), 0);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    // Served first, with no OpenTelemetry module resolved; then tracing() loads the API, and only it.
    assert.equal(lines[0], 'served', lines.join('\n'));
    assert.equal(lines.at(-1), 'traced');
    assert.deepEqual([...new Set(lines.slice(1, -1))], ['import @opentelemetry/api']);
  });
});
