import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const src = fileURLToPath(new URL('../src/', import.meta.url));

/** Every source file as [folder under src, path, the module specifiers it imports]. */
function sources(): [string, string, string[]][] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
    );
  return walk(src).map((path) => {
    const text = readFileSync(path, 'utf8');
    const specifiers = [...text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'/gms)].map(
      (m) => m[1]!,
    );
    const dynamic = [...text.matchAll(/import\('([^']+)'\)/g)].map((m) => m[1]!);
    const rel = relative(src, path);
    return [rel.includes('/') ? rel.split('/')[0]! : '.', rel, [...specifiers, ...dynamic]];
  });
}

describe('architecture', () => {
  it('backends, the toolkit and the overload limiter never import the HTTP core or the CLI', () => {
    for (const [folder, path, specifiers] of sources()) {
      if (!['db', 'cache', 'queue', 'concurrency', 'internal', 'overload'].includes(folder)) continue;
      for (const s of specifiers) {
        assert.doesNotMatch(s, /^\.\.\/(http|cli)\//, `${path} imports ${s}`);
      }
    }
  });

  it('the HTTP core imports no backend and no CLI', () => {
    for (const [folder, path, specifiers] of sources()) {
      if (folder !== 'http') continue;
      for (const s of specifiers)
        assert.doesNotMatch(s, /^\.\.\/(db|cache|queue|cli)\//, `${path} imports ${s}`);
    }
  });

  it('nothing imports the CLI, and drivers are loaded lazily (type imports aside)', () => {
    for (const [folder, path, specifiers] of sources()) {
      if (folder !== 'cli') {
        for (const s of specifiers) assert.doesNotMatch(s, /\/cli\//, `${path} imports ${s}`);
      }
    }
    for (const [, path] of sources()) {
      const text = readFileSync(join(src, path), 'utf8');
      const eager =
        /^import\s+(?!type\b)[^;]*from\s+'(pg|ioredis|amqplib|@nats-io\/[\w-]+|better-sqlite3|piscina|@opentelemetry\/[\w-]+)'/m.exec(
          text,
        );
      assert.equal(eager, null, `${path} loads ${eager?.[1]} eagerly`);
    }
  });

  it('only weir/http-client imports undici (an app that makes no client never loads it)', () => {
    const importers = sources()
      .filter(([, , specifiers]) => specifiers.some((s) => s === 'undici' || s.startsWith('undici/')))
      .map(([folder, path]) => [folder, path]);
    assert.ok(importers.length > 0);
    for (const [folder, path] of importers) assert.equal(folder, 'http-client', `${path} imports undici`);
  });

  it('only weir/upload uses @fastify/busboy and file-type, and loads file-type only when a type is checked', () => {
    const users = sources().filter(([, path]) =>
      /'(@fastify\/busboy|file-type)'/.test(readFileSync(join(src, path), 'utf8')),
    );
    assert.ok(users.length >= 2, 'the multipart parser and the type check are found');
    for (const [folder, path] of users) assert.equal(folder, 'upload', `${path} uses a multipart package`);
    for (const [, path, specifiers] of users)
      assert.ok(!specifiers.includes('file-type'), `${path} imports file-type`);
  });

  it('no test or testing helper installs a process-level uncaughtException or unhandledRejection handler (it would hide a crash)', () => {
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : /\.[cm]?[jt]s$/.test(e.name) ? [join(dir, e.name)] : [],
      );
    const files = [
      ...walk(fileURLToPath(new URL('./', import.meta.url))),
      ...walk(fileURLToPath(new URL('../src/testing/', import.meta.url))),
    ];
    // Assembled so that this file does not match itself.
    const events = ['uncaught', 'Exception(Monitor)?|unhandled', 'Rejection'].join('');
    const install = new RegExp(
      `process\\.(on|once|addListener|prependListener|prependOnceListener)\\(\\s*['"\`](${events})['"\`]|process\\.setUncaught${'Exception'}CaptureCallback\\(`,
    );
    assert.ok(files.length > 100 && files.some((f) => f.includes('/src/testing/')));
    for (const file of files) assert.doesNotMatch(readFileSync(file, 'utf8'), install, file);
    // The pattern itself finds each way of installing one.
    for (const sample of [
      `process.on('uncaught${'Exception'}', f)`,
      `process.once("unhandled${'Rejection'}", f)`,
      `process.prependListener(\`uncaught${'Exception'}\`, f)`,
      `process.setUncaught${'Exception'}CaptureCallback(f)`,
    ])
      assert.match(sample, install);
  });
});
