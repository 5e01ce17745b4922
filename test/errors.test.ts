import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { errorCodes, HttpError, isHttpError, isWeirError, WeirError } from 'weir';

describe('error registry', () => {
  it('documents every code in docs/errors.md, and documents no code that does not exist', () => {
    const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^### (WEIR_ERR_\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual([...documented].sort(), Object.keys(errorCodes).sort());
  });

  it('uses only registered WEIR_ERR_ codes in the source', () => {
    const codes = new Set(Object.keys(errorCodes));
    const walk = (dir: URL): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory()
          ? walk(new URL(`${e.name}/`, dir))
          : e.name.endsWith('.ts')
            ? [readFileSync(new URL(e.name, dir), 'utf8')]
            : [],
      );
    for (const source of walk(new URL('../src/', import.meta.url))) {
      for (const [code] of source.matchAll(/WEIR_ERR_[A-Z_]+/g)) {
        assert.ok(codes.has(code) || code === 'WEIR_ERR_', `${code} is used but not registered`);
      }
    }
  });

  it('brands errors so instanceof holds across copies, and keeps code and status', () => {
    const err = new HttpError(418, 'TEAPOT', 'short and stout', { size: 'small' });
    assert.equal(err instanceof WeirError, true);
    assert.equal(err instanceof HttpError, true);
    assert.equal(isHttpError(err) && isWeirError(err), true);
    assert.equal(err.name, 'HttpError');
    // A structurally foreign copy: same brand, different class.
    const foreign = Object.assign(new Error('x'), { code: 'X' });
    Object.defineProperty(foreign, Symbol.for('weir.error'), { value: true });
    assert.equal(foreign instanceof WeirError, true);
    assert.equal(foreign instanceof HttpError, false);
    assert.throws(() => new HttpError(200, 'OK', 'not an error status'), { code: 'WEIR_ERR_INVALID_OPTION' });
  });
});
