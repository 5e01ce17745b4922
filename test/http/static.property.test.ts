/**
 * Property of static-file containment: for any path built from traversal pieces (`..`, `.`, encoded dots
 * and slashes, backslashes, NUL, unicode) and names of symlinks that lead out, serveStatic answers 400,
 * 403 or 404, redirects a folder to itself with a `/`, or serves a file inside its folder; never a byte
 * of a file outside it, nor of a dotfile inside it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { App, type ServerHandle, serveStatic } from 'weir';
import { inject } from 'weir/testing';
import { raw, serve } from '../helpers/http.ts';

const SECRETS = ['SECRET-IN-BASE-1f3a', 'SECRET-IN-SIBLING-77c2', 'SECRET-DOTFILE-9e41'];
const INSIDE = new Set(['inside-a', 'inside-index', 'inside-b', 'inside-sub-index']);

let base: string;
let app: App;
let handle: ServerHandle;

before(async () => {
  base = mkdtempSync(join(tmpdir(), 'weir-static-prop-'));
  const root = join(base, 'public');
  mkdirSync(join(root, 'sub'), { recursive: true });
  // A sibling whose name starts with the root's: a prefix check without the separator would let it in.
  mkdirSync(join(base, 'public2'));
  writeFileSync(join(base, 'secret.txt'), SECRETS[0]!);
  writeFileSync(join(base, 'public2', 'secret.txt'), SECRETS[1]!);
  writeFileSync(join(root, '.env'), SECRETS[2]!);
  writeFileSync(join(root, 'a.txt'), 'inside-a');
  writeFileSync(join(root, 'index.html'), 'inside-index');
  writeFileSync(join(root, 'sub', 'b.txt'), 'inside-b');
  writeFileSync(join(root, 'sub', 'index.html'), 'inside-sub-index');
  symlinkSync(join(base, 'secret.txt'), join(root, 'link-out.txt'));
  symlinkSync(base, join(root, 'dir-out'));
  symlinkSync('../public2', join(root, 'sib-out'));
  symlinkSync('/etc', join(root, 'abs-out'));
  symlinkSync('../nowhere', join(root, 'dangling'));
  symlinkSync('..', join(root, 'sub', 'up'));
  symlinkSync('a.txt', join(root, 'link-in.txt'));
  app = new App({ logger: false });
  app.get('/static/*', serveStatic(root));
  handle = await serve(app);
});
after(async () => {
  await handle.close();
  rmSync(base, { recursive: true, force: true });
});

const traversal = fc.constantFrom(
  '..',
  '.',
  '',
  '%2e%2e',
  '%2E%2e',
  '%2e',
  '.%2e',
  '..%2f',
  '%2e%2e%2f',
  '..%5c',
  '%2f',
  '%2F',
  '%5c',
  '\\',
  '%00',
  '%',
  '%%',
  '%c0%ae%c0%ae',
  '.env',
  '%2eenv',
  'é',
  '%C3%A9',
  '\u0000',
);
const name = fc.constantFrom(
  'a.txt',
  'sub',
  'b.txt',
  'index.html',
  'link-out.txt',
  'dir-out',
  'sib-out',
  'abs-out',
  'dangling',
  'up',
  'link-in.txt',
  'secret.txt',
  'public',
  'public2',
  'passwd',
  'hostname',
  'sib-out/secret.txt',
  'dir-out/secret.txt',
  'dir-out/public2/secret.txt',
  'sub/up/link-out.txt',
  'sub/up/.env',
);
const piece = fc.oneof(
  { weight: 3, arbitrary: traversal },
  { weight: 4, arbitrary: name },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
);
// Mixtures of pieces, and, since any ".." in a mixture is refused outright, single names behind harmless
// prefixes: the symlinks that lead out must be reached often.
const path = fc.oneof(
  fc
    .tuple(fc.array(piece, { minLength: 1, maxLength: 6 }), fc.boolean())
    .map(([pieces, slash]) => `/static/${pieces.join('/')}${slash ? '/' : ''}`),
  fc
    .tuple(fc.constantFrom('', './', '/', 'sub/up/', 'sub/up/sub/up/'), name, fc.boolean())
    .map(([prefix, n, slash]) => `/static/${prefix}${n}${slash ? '/' : ''}`),
);

/** Checks one answer: its status is allowed, and what it carries came from inside the folder. */
function contained(
  path: string,
  status: number,
  location: string | undefined,
  body: string,
  label: string,
): void {
  for (const secret of SECRETS) assert.equal(body.includes(secret), false, `${label} leaked ${secret}`);
  if (status === 200 || status === 206 || status === 304) {
    if (status !== 304)
      assert.ok(INSIDE.has(body), `${label}: ${status} with ${JSON.stringify(body.slice(0, 60))}`);
    // A path ending in "/" names a folder, so only an index file may answer it.
    if (status === 200 && path.endsWith('/')) assert.ok(body.endsWith('index'), `${label}: ${body}`);
  } else if (status === 301) {
    assert.match(String(location), /^\/static\//, label);
    assert.doesNotMatch(String(location), /^\/[/\\]|[^\x21-\x7e]/, label);
  } else {
    assert.ok([400, 403, 404].includes(status), `${label}: status ${status}`);
  }
}

test('through inject(), no path serves anything but a file inside the folder', async () => {
  await fc.assert(
    fc.asyncProperty(path, async (url) => {
      const res = await inject(app, { url });
      contained(url, res.status, res.headers.location as string | undefined, res.body, url);
    }),
    { numRuns: 300 },
  );
});

test('over a raw socket, unnormalised, no path serves anything but a file inside the folder', async () => {
  await fc.assert(
    fc.asyncProperty(path, async (url) => {
      const response = await raw(handle.port, `GET ${url} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
      const head = response.slice(0, response.indexOf('\r\n\r\n'));
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1]);
      const location = /\r\nlocation: ([^\r]*)/i.exec(head)?.[1];
      contained(url, status, location, response.slice(head.length + 4), JSON.stringify(url));
    }),
    { numRuns: 200 },
  );
});

test('symlinks: one inside is served, every one that leads out answers 404', async () => {
  assert.equal((await inject(app, { url: '/static/link-in.txt' })).body, 'inside-a');
  assert.equal((await inject(app, { url: '/static/sub/up/a.txt' })).body, 'inside-a');
  for (const url of [
    '/static/link-out.txt',
    '/static/dir-out/secret.txt',
    '/static/sib-out/secret.txt',
    '/static/abs-out/hostname',
    '/static/dangling',
    '/static/dir-out/',
  ]) {
    const res = await inject(app, { url });
    assert.equal(res.status, 404, url);
  }
});
