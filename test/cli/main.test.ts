import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openDatabase } from 'weir/db';
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

  it('prints the OpenAPI document of an entry module, or writes it to --out', async () => {
    const c = capture();
    assert.equal(await run(['openapi', entry], c.io), 0);
    const doc = JSON.parse(c.out.join('\n')) as { openapi: string; paths: Record<string, object> };
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(Object.keys(doc.paths), ['/', '/items/{id}']);
    const dir = mkdtempSync(join(tmpdir(), 'weir-openapi-'));
    const file = join(dir, 'openapi.json');
    const quiet = capture();
    assert.equal(await run(['openapi', entry, '--out', file], quiet.io), 0);
    assert.deepEqual(quiet.out, []);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), doc);
    const missing = capture();
    assert.equal(await run(['openapi'], missing.io), 2);
  });

  it('routes on an entry that calls listen() at top level: prints its routes, binds nothing, and exits', async () => {
    const fixture = new URL('../fixtures/listening-entry.ts', import.meta.url).pathname;
    const script = new URL('../../scripts/weir.mjs', import.meta.url).pathname;
    const port = 20000 + Math.floor(Math.random() * 12000); // below the ephemeral range
    const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const child = execFile(
        process.execPath,
        ['--conditions=weir-source', '--import', 'tsx', script, 'routes', fixture],
        { env: { ...process.env, PORT: String(port) }, timeout: 30_000 },
        (err, out) =>
          resolve({ code: err === null ? 0 : ((err as { code?: number }).code ?? null), stdout: out }),
      );
      child.stdin?.end();
    });
    assert.equal(code, 0);
    assert.deepEqual(stdout.trim().split('\n'), ['GET /', 'POST /items/:id']);
    // Nothing was bound on the port the module asked for.
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.on('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.on('error', () => resolve(true));
    });
    assert.equal(refused, true);
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

  it('db migrate applies the files once, then reports the database up to date', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-cli-'));
    mkdirSync(join(dir, 'migrations', 'sqlite'), { recursive: true });
    writeFileSync(
      join(dir, 'migrations', 'sqlite', '1_items.sql'),
      'CREATE TABLE item (id INTEGER PRIMARY KEY);',
    );
    const url = `sqlite:${join(dir, 'app.db')}`;
    const args = ['db', 'migrate', '--url', url, '--dir', join(dir, 'migrations')];
    const first = capture();
    assert.equal(await run(args, first.io), 0, first.err.join('\n'));
    assert.deepEqual(first.out, [
      'applied 1_items.sql',
      `weir: ${url} is up to date (1 applied now, 0 before)`,
    ]);
    const second = capture();
    assert.equal(await run(args, second.io), 0);
    assert.deepEqual(second.out, [`weir: ${url} is up to date (0 applied now, 1 before)`]);
    const db = await openDatabase(url);
    assert.deepEqual(await db.query`SELECT * FROM item`, []);
    await db.close();
  });

  it('db migrate fails in one line for a bad URL or a failing file', async () => {
    const bad = capture();
    assert.equal(await run(['db', 'migrate', '--url', 'mongodb://x'], bad.io), 1);
    assert.equal(bad.err.length, 1);
    assert.match(bad.err[0]!, /^weir: Database URL "mongodb:\/\/x" names no supported engine/);
    const dir = mkdtempSync(join(tmpdir(), 'weir-cli-'));
    mkdirSync(join(dir, 'sqlite'));
    writeFileSync(join(dir, 'sqlite', '1_bad.sql'), 'CREATE TABLE;');
    const failing = capture();
    assert.equal(
      await run(['db', 'migrate', '--url', `sqlite:${join(dir, 'x.db')}`, '--dir', dir], failing.io),
      1,
    );
    assert.match(failing.err[0]!, /^weir: Migration .*1_bad\.sql failed: /);
    const unknown = capture();
    assert.equal(await run(['db', 'drop'], unknown.io), 2);
  });
});
