import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spawnNode } from '../helpers/process.ts';

const dir = mkdtempSync(join(tmpdir(), 'weir-http-client-absent-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('http-client: no cost when it is not used', { timeout: 60_000 }, () => {
  it('an app that loads every other entry of weir, serves and fetches never loads undici; weir/http-client does', async () => {
    const log = join(dir, 'imports.log');
    const child = spawnNode(
      [
        '--conditions=weir-source',
        '--import',
        'tsx',
        '--import',
        new URL('../fixtures/imports/record.mjs', import.meta.url).pathname,
        new URL('../fixtures/no-http-client-app.ts', import.meta.url).pathname,
      ],
      { WEIR_IMPORT_LOG: log, WEIR_IMPORT_MATCH: 'undici', LOG_LEVEL: 'silent' },
    );
    assert.equal(await child.exited(), 0);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'served', lines.join('\n'));
    assert.equal(lines.at(-1), 'called');
    assert.deepEqual([...new Set(lines.slice(1, -1))], ['import undici']);
  });
});
