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
        /^import\s+(?!type\b)[^;]*from\s+'(pg|ioredis|amqplib|@nats-io\/[\w-]+|better-sqlite3|piscina)'/m.exec(
          text,
        );
      assert.equal(eager, null, `${path} loads ${eager?.[1]} eagerly`);
    }
  });

  it('no test installs a process-level uncaughtException or unhandledRejection handler (it would hide a crash)', () => {
    const testDir = fileURLToPath(new URL('./', import.meta.url));
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
      );
    const pattern = ['uncaught', 'Exception|unhandled', 'Rejection'].join('');
    for (const file of walk(testDir)) {
      const text = readFileSync(file, 'utf8');
      assert.doesNotMatch(text, new RegExp(`process\\.(on|once|addListener)\\(\\s*'(${pattern})'`), file);
    }
  });
});
