/**
 * docs/cli.md: each command does what the guide says and prints what the guide shows. In-process through
 * `run()` where the command exits; as a real process (`scripts/weir.mjs`) where it serves.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { run } from '../../src/cli/main.ts';
import { request } from '../helpers/http.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const guide = readFileSync(join(root, 'docs/cli.md'), 'utf8');
const weir = join(root, 'scripts/weir.mjs');

/** Runs the CLI in-process from the repository's root; resolves with its exit code and lines. */
async function weirRun(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  // `weir routes` turns inspect mode on for this process; later commands must find it off.
  delete (globalThis as Record<symbol, unknown>)[Symbol.for('weir.inspect')];
  return { code, out, err };
}

/** Asserts the guide shows `lines` as one text block, exactly. */
function shown(lines: string[]): void {
  assert.ok(
    guide.includes(`\`\`\`text\n${lines.join('\n')}\n\`\`\``),
    `docs/cli.md does not show:\n${lines.join('\n')}`,
  );
}

/** A `weir` command as a process, with its stdout collected. */
function weirProcess(args: string[], cwd = root) {
  const child: ChildProcess = spawn(
    process.execPath,
    ['--conditions=weir-source', '--import', 'tsx', weir, ...args],
    {
      cwd,
      env: { ...process.env, LOG_LEVEL: 'info', PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => out,
    async waitFor(pattern: RegExp): Promise<RegExpExecArray> {
      for (let i = 0; i < 3000; i++) {
        const match = pattern.exec(out);
        if (match !== null) return match;
        if (child.exitCode !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error(`weir ${args.join(' ')} did not print ${pattern}: ${out}`);
    },
  };
}

describe('docs/cli.md', () => {
  it('weir routes lists the routes the guide shows, and exits', async () => {
    const listed = await weirRun(['routes', 'examples/docs/cli/service.ts']);
    assert.equal(listed.code, 0);
    shown(listed.out);
    const listening = await weirRun(['routes', 'examples/docs/http/server.ts']);
    assert.equal(listening.code, 0);
    shown(listening.out);
  });

  it('weir worker on an entry with no worker fails in one line, exit code 1', async () => {
    const { code, err } = await weirRun(['worker', 'examples/docs/cli/service.ts']);
    assert.equal(code, 1);
    assert.deepEqual(err, [
      'weir: examples/docs/cli/service.ts registers no worker: add one with app.worker(queue, handler)',
    ]);
  });

  it('weir db migrate applies the migrations once and prints what the guide shows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-docs-cli-'));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const args = [
        'db',
        'migrate',
        '--dir',
        join(root, 'examples/docs/db/migrations'),
        '--url',
        'sqlite:./data/notes.db',
      ];
      const first = await weirRun(args);
      assert.equal(first.code, 0);
      shown(first.out);
      const again = await weirRun(args);
      assert.deepEqual(again.out, ['weir: sqlite:./data/notes.db is up to date (0 applied now, 1 before)']);
      const broken = await weirRun([
        'db',
        'migrate',
        '--dir',
        join(dir, 'none'),
        '--url',
        'sqlite:./data/notes.db',
      ]);
      assert.equal(broken.code, 1);
      assert.equal(broken.err.length, 1);
      assert.match(broken.err[0]!, /^weir: Cannot read the migrations folder /);
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('unknown commands and a missing ENTRY print the usage, exit code 2', async () => {
    for (const argv of [['frobnicate', 'x.ts'], ['serve'], []]) {
      const { code, out, err } = await weirRun(argv);
      assert.equal(code, 2, argv.join(' '));
      assert.match([...out, ...err].join('\n'), /Usage:/);
    }
  });

  it('weir serve serves the entry, prints the line the guide shows, and exits 0 on SIGTERM', async () => {
    const serving = weirProcess(['serve', 'examples/docs/cli/service.ts']);
    try {
      const [line, port] = await serving.waitFor(/^weir: serving \S+ on http:\/\/127\.0\.0\.1:(\d+)$/m);
      shown([line.replace(`:${port}`, ':8080')]);
      assert.equal((await request({ port: Number(port) }, { path: '/hello/docs' })).body, 'Hello, docs');
      serving.child.kill('SIGTERM');
      assert.equal(await serving.exited, 0);
      assert.match(serving.output(), /"msg":"stopped"/);
    } finally {
      serving.child.kill('SIGKILL');
    }
  });

  it('weir serve --workers 2 prints the line the guide shows, reloads on weir reload, and stops on SIGTERM', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'weir-docs-cli-')), 'weir.pid');
    const serving = weirProcess([
      'serve',
      'examples/docs/cli/service.ts',
      '--workers',
      '2',
      '--pid-file',
      pidFile,
    ]);
    const anonymous = (text: string, pid: string): string => text.replaceAll(`pid ${pid})`, 'pid 4242)');
    try {
      const [line, port, pid] = await serving.waitFor(
        /^weir: serving http:\/\/127\.0\.0\.1:(\d+) with 2 workers \(primary pid (\d+)\)$/m,
      );
      shown([anonymous(line.replace(`:${port}`, ':8080'), pid!)]);
      assert.equal(readFileSync(pidFile, 'utf8').trim(), pid);
      assert.equal((await request({ port: Number(port) }, { path: '/hello/docs' })).body, 'Hello, docs');
      const reload = await weirRun(['reload', '--pid-file', pidFile]);
      assert.equal(reload.code, 0);
      shown(reload.out.map((l) => anonymous(l, pid!)));
      await serving.waitFor(/reload done/);
      shown(
        serving
          .output()
          .split('\n')
          .filter((l) => /^weir: reload/.test(l)),
      );
      serving.child.kill('SIGTERM');
      assert.equal(await serving.exited, 0);
      shown(
        serving
          .output()
          .split('\n')
          .filter((l) => /^weir: (SIGTERM|every)/.test(l)),
      );
      const gone = await weirRun(['reload', '--pid-file', pidFile]);
      assert.equal(gone.code, 1);
      assert.match(gone.err[0]!, /^weir: .*weir\.pid does not exist \(is the primary running\?\)$/);
    } finally {
      serving.child.kill('SIGKILL');
    }
  });

  it('weir dev serves the entry, logs one readable line per request, and stops on SIGINT', async () => {
    const dev = weirProcess(['dev', 'service.ts'], join(root, 'examples/docs/cli'));
    try {
      const [, port] = await dev.waitFor(/INFO {2}listening url=http:\/\/127\.0\.0\.1:(\d+)/);
      assert.equal((await request({ port: Number(port) }, { path: '/hello/ada' })).body, 'Hello, ada');
      await dev.waitFor(/\d\d:\d\d:\d\d INFO {2}GET \/hello\/ada 200 [\d.]+ ms/);
      dev.child.kill('SIGINT');
      assert.equal(await dev.exited, 0);
    } finally {
      // SIGINT first: the supervisor stops its child; a SIGKILL alone would leave that child running.
      if (dev.child.exitCode === null) {
        dev.child.kill('SIGINT');
        await Promise.race([dev.exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
        dev.child.kill('SIGKILL');
      }
    }
  });
});
