import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from '../helpers/http.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Polls GET / until it answers `body`, for at most `withinMs`; a failure shows what `weir dev` printed. */
async function until(port: number, body: string, withinMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + withinMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      last = (await request({ port }, { path: '/' })).body;
      if (last === body) return;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(100);
  }
  assert.fail(
    `GET / did not answer ${body} within ${withinMs} ms (last: ${last}); weir dev printed:\n${output()}`,
  );
}

/** Waits (at most 15 s) until the output matches `pattern`. */
async function seen(output: () => string, pattern: RegExp): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!pattern.test(output()) && Date.now() < deadline) await sleep(50);
  assert.match(output(), pattern);
}

describe('weir dev', () => {
  it('serves ENTRY, restarts it on a change, reports a syntax error in one line with its place, and stops on SIGTERM', async () => {
    // Inside the repository (data/ is ignored by git), so the project's `import 'weir'` resolves.
    mkdirSync(join(root, 'data'), { recursive: true });
    const project = mkdtempSync(join(root, 'data', 'dev-'));
    mkdirSync(join(project, 'src'));
    const word = join(project, 'src', 'word.ts');
    writeFileSync(word, "export const word = 'v1';\n");
    writeFileSync(
      join(project, 'app.ts'),
      "import { App } from 'weir';\nimport { word } from './src/word.ts';\nconst app = new App();\napp.get('/', () => word);\nexport default app;\n",
    );
    // Below the kernel's ephemeral range (32768 and up here), where a client socket could already hold it.
    const port = 20000 + Math.floor(Math.random() * 12000);
    const child = spawn(
      process.execPath,
      [
        '--conditions=weir-source',
        '--import',
        'tsx',
        join(root, 'scripts', 'weir.mjs'),
        'dev',
        'app.ts',
        '--port',
        String(port),
      ],
      { cwd: project, env: { ...process.env, LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      output += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    try {
      await until(port, 'v1', 30_000, () => output);
      writeFileSync(word, "export const word = 'v2';\n");
      await until(port, 'v2', 15_000, () => output);
      await seen(() => output, /GET \/ 200 [\d.]+ ms/);
      writeFileSync(word, "export const word = 'v3' +;\n");
      await seen(() => output, /weir dev: \S+word\.ts:1:\d+: /);
      assert.match(output, /weir dev: \S+src\/word\.ts:1:\d+: Unexpected ";"\n/);
      writeFileSync(word, "export const word = 'v3';\n");
      await until(port, 'v3', 15_000, () => output);
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      await assert.rejects(request({ port }, { path: '/' }), /ECONNREFUSED/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(project, { recursive: true, force: true });
    }
  });
});
