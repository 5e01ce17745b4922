import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { App } from 'weir';
import { benchCommand } from '../../src/bench/command.ts';
import type { BenchReport } from '../../src/bench/report.ts';
import { serve } from '../helpers/http.ts';

it("README's weir bench line runs as written against a service with those routes", async () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const line = /^npx weir bench (.+)$/m.exec(readme)?.[1];
  assert.ok(line, 'the README shows a `npx weir bench` line');
  const app = new App();
  app.get('/json', () => ({ message: 'Hello, World!' }));
  app.get('/plaintext', () => 'Hello, World!');
  const server = await serve(app);
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-readme-'));
  try {
    const argv = line
      .replaceAll('127.0.0.1:8080', `127.0.0.1:${server.port}`)
      .split(/\s+/)
      .map((word, i, words) => (words[i - 1] === '--out' ? dir : word));
    // Shortened for the test: a later flag wins.
    const out: string[] = [];
    const code = await benchCommand([...argv, '--duration', '1', '--warmup', '0', '--rounds', '2'], {
      out: (l) => out.push(l),
      err: () => {},
    });
    assert.equal(code, 0);
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as BenchReport;
    assert.deepEqual(
      report.targets.map((t) => [t.label, new URL(t.url).pathname, Object.keys(t.statuses)]),
      [
        ['A', '/json', ['200']],
        ['B', '/plaintext', ['200']],
      ],
    );
    assert.ok(existsSync(join(dir, 'report.html')) && existsSync(join(dir, 'report.md')));
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
