import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run } from '../../src/cli/main.ts';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

const entry = new URL('../fixtures/cli-app.ts', import.meta.url).pathname;

describe('weir CLI', () => {
  it('prints the version', async () => {
    const c = capture();
    assert.equal(await run(['--version'], c.io), 0);
    assert.match(c.out[0]!, /^\d+\.\d+\.\d+/);
  });

  it('lists the routes of an entry module', async () => {
    const c = capture();
    assert.equal(await run(['routes', entry], c.io), 0);
    assert.deepEqual(c.out, ['GET /', 'POST /items/:id']);
  });

  it('explains a missing or wrong entry in one line, with exit code 1 or 2', async () => {
    const none = capture();
    assert.equal(await run(['serve'], none.io), 2);
    assert.match(none.err[0]!, /missing ENTRY/);
    const missing = capture();
    assert.equal(await run(['routes', '/nonexistent/app.js'], missing.io), 1);
    assert.match(missing.err[0]!, /^weir: Cannot load \/nonexistent\/app\.js/);
    const notApp = capture();
    assert.equal(
      await run(['routes', new URL('../helpers/http.ts', import.meta.url).pathname], notApp.io),
      1,
    );
    assert.match(notApp.err[0]!, /exports no weir App/);
    const badFlag = capture();
    assert.equal(await run(['serve', entry, '--nope'], badFlag.io), 2);
  });
});
