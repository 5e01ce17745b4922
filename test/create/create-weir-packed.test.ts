// `npm create weir` end to end, from the two packed tarballs as a user would get them: weir and
// create-weir are packed (from a copy of the working tree, so the checkout's dist/ stays as it is), the
// README's `npm exec` line runs create-weir from its tarball with weir's tarball as the dependency, then
// the new project installs, tests, builds, starts and runs `weir dev`.
//
// Slow (about 3 minutes here on Node 20, most of it compiling better-sqlite3 for the new project), so it
// runs only in CI (CI=true, as .ci/run sets) or with WEIR_PACK_TEST=1.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { request } from '../helpers/http.ts';
import { copyWorkingTree, scratchEnv, sh } from '../helpers/npm.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const enabled = process.env.WEIR_PACK_TEST === '1' || process.env.CI === 'true' || process.env.CI === '1';
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The README's commands under "## Start a new project", without their trailing comments. */
function readmeCommands(): string[] {
  const section = /^## Start a new project\n([\s\S]*?)^## /m.exec(readme)?.[1];
  assert.ok(section, 'the README has no "## Start a new project" section');
  const blocks = [...section.matchAll(/^```sh\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
  return blocks
    .flatMap((b) => b.split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '');
}

/** A script of the new project run with `npm run`, in a process group of its own. */
interface Running {
  output(): string;
  /** Waits (at most `withinMs`) for the `nth` match of `pattern` (global) in the output. */
  waitFor(pattern: RegExp, nth: number, withinMs: number): Promise<RegExpExecArray>;
  /** SIGTERM to the group (as a terminal's Ctrl-C or a supervisor would); resolves once all of it exited. */
  stop(): Promise<void>;
}

/** Whether any process of group `pgid` is alive. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function runScript(script: string, cwd: string): Running {
  // A group of its own: npm passes no SIGTERM on to the server below its shell, so the test signals the
  // whole group it started, as a terminal does.
  const child: ChildProcess = spawn('npm', ['run', script], {
    cwd,
    detached: true,
    env: scratchEnv({ PORT: '0', LOG_LEVEL: 'info' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pgid = child.pid!;
  let out = '';
  child.stdout!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr!.on('data', (c: Buffer) => {
    out += c.toString();
  });
  return {
    output: () => out,
    async waitFor(pattern, nth, withinMs) {
      const deadline = Date.now() + withinMs;
      for (;;) {
        const matches = [...out.matchAll(pattern)];
        if (matches.length >= nth) return matches[nth - 1]!;
        if (Date.now() > deadline || !groupAlive(pgid)) {
          assert.fail(`npm run ${script}: no match ${nth} of ${pattern} within ${withinMs} ms:\n${out}`);
        }
        await sleep(100);
      }
    },
    async stop() {
      if (groupAlive(pgid)) process.kill(-pgid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (groupAlive(pgid) && Date.now() < deadline) await sleep(100);
      if (groupAlive(pgid)) {
        process.kill(-pgid, 'SIGKILL');
        assert.fail(`npm run ${script} was still running 20 s after SIGTERM:\n${out}`);
      }
    },
  };
}

describe('npm create weir, from the packed tarballs', {
  skip: enabled ? false : 'set WEIR_PACK_TEST=1 (about 3 min) or CI=true',
}, () => {
  let scratch: string;
  let project: string;
  let weirTarball: string;
  let createTarball: string;

  before(
    async () => {
      scratch = mkdtempSync(join(tmpdir(), 'create-weir-packed-'));
      const tree = join(scratch, 'tree');
      await copyWorkingTree(root, tree);
      const scripts = (
        JSON.parse(readFileSync(join(tree, 'package.json'), 'utf8')) as {
          scripts: Record<string, string>;
        }
      ).scripts;
      // `npm pack` builds dist/ itself where a prepare or prepack script does it; otherwise build first.
      if (scripts.prepare === undefined && scripts.prepack === undefined) {
        await sh('npm', ['run', 'build'], tree, 180_000);
      }
      await sh('npm', ['pack', '--pack-destination', scratch], tree, 180_000);
      await sh('npm', ['pack', '-w', 'packages/create-weir', '--pack-destination', scratch], tree, 60_000);
      const tarballs = readdirSync(scratch);
      weirTarball = join(scratch, tarballs.find((f) => /^weir-.*\.tgz$/.test(f)) ?? 'no weir tarball');
      createTarball = join(scratch, tarballs.find((f) => /^create-weir-.*\.tgz$/.test(f)) ?? 'none');

      // The README packs both as above (into the clone, where this test packs into its scratch folder)
      // and runs the line below, here with the tarballs just packed, from a folder standing in for the clone.
      const commands = readmeCommands();
      assert.ok(commands.includes('npm pack'), 'the README packs weir otherwise');
      assert.ok(
        commands.includes('npm pack -w packages/create-weir'),
        'the README packs create-weir otherwise',
      );
      const line = commands.find((l) => l.startsWith('npm exec '));
      assert.ok(line, 'the README runs create-weir with no `npm exec` line');
      const args = line
        .split(/\s+/)
        .slice(1)
        .map((arg) =>
          arg
            .replace(/^(--package=)?\.\/create-weir-[^/\s]*\.tgz$/, `$1${createTarball}`)
            .replace(/^\.\/weir-[^/\s]*\.tgz$/, weirTarball),
        );
      const clone = join(scratch, 'clone');
      mkdirSync(clone);
      // --yes: npm asks before it installs the package it runs; a cache of its own keeps the user's
      // ~/.npm/_npx free of scratch tarballs (create-weir has no dependencies to fetch).
      args.splice(1, 0, '--yes', `--cache=${join(scratch, 'npx-cache')}`);
      const created = await sh('npm', args, clone, 120_000);
      const target = args[args.indexOf('create-weir') + 1]!;
      project = join(clone, target);
      assert.match(created, /^Created \S+ in .+\. Next:$/m);

      // build-from-source: better-sqlite3 compiles instead of trying to fetch a binary from outside the
      // registry.
      await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], project, 600_000, {
        npm_config_build_from_source: 'true',
      });
    },
    { timeout: 900_000 },
  );

  after(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('packs create-weir with its bin, index.js and the whole template, dotfiles included, and nothing else', async () => {
    const files = (await sh('tar', ['-tzf', createTarball], scratch, 30_000))
      .split('\n')
      .filter((f) => f !== '' && !f.endsWith('/'))
      .map((f) => f.replace(/^package\//, ''))
      .sort();
    assert.deepEqual(files, [
      'LICENSE',
      'README.md',
      'bin/create-weir.js',
      'index.js',
      'package.json',
      'template/.env.example',
      'template/README.md',
      'template/gitignore',
      'template/src/app.ts',
      'template/src/env.ts',
      'template/src/main.ts',
      'template/test/app.test.ts',
      'template/tsconfig.build.json',
      'template/tsconfig.json',
    ]);
  });

  it('writes the project to depend on the weir tarball, and installs weir with its compiled dist/ and bin', () => {
    const pkg = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    assert.equal(pkg.dependencies.weir, `file:${weirTarball}`);
    for (const file of ['node_modules/weir/dist/index.js', 'node_modules/weir/dist/testing/index.js']) {
      assert.ok(existsSync(join(project, file)), `${file} is missing`);
    }
    assert.ok(existsSync(join(project, 'node_modules/.bin/weir')), 'no weir command in node_modules/.bin');
    assert.ok(existsSync(join(project, '.gitignore')) && existsSync(join(project, '.env.example')));
  });

  it('passes its own tests (inject() from weir/testing) with npm test', { timeout: 120_000 }, async () => {
    const out = await sh('npm', ['test'], project, 110_000);
    assert.match(out, /^(# pass 4|ℹ pass 4)$/m, out); // TAP on Node 20/22, spec from 23 on
    assert.match(out, /^(# fail 0|ℹ fail 0)$/m, out);
  });

  it('type-checks, and builds dist/main.js with npm run build', { timeout: 240_000 }, async () => {
    await sh('npm', ['run', 'typecheck'], project, 110_000);
    await sh('npm', ['run', 'build'], project, 110_000);
    assert.ok(existsSync(join(project, 'dist/main.js')));
    assert.ok(!existsSync(join(project, 'dist/test')), 'the build compiled the tests');
  });

  it('serves the build with npm start on PORT, answers GET /, and drains and exits on SIGTERM', {
    timeout: 90_000,
  }, async () => {
    const start = runScript('start', project);
    try {
      const [, port] = await start.waitFor(
        /"url":"http:\/\/127\.0\.0\.1:(\d+)","msg":"listening"/g,
        1,
        30_000,
      );
      assert.equal((await request({ port: Number(port) }, { path: '/' })).body, 'Hello, World');
      assert.equal((await request({ port: Number(port) }, { path: '/hello/pack' })).body, 'Hello, pack');
      await start.stop();
      assert.match(start.output(), /"msg":"stopped"/);
      await assert.rejects(request({ port: Number(port) }, { path: '/' }), /ECONNREFUSED/);
    } finally {
      await start.stop();
    }
  });

  it('runs src/main.ts with npm run dev, serves a change to src/app.ts after a restart, and stops on SIGTERM', {
    timeout: 120_000,
  }, async () => {
    const dev = runScript('dev', project);
    const listening = /listening url=http:\/\/127\.0\.0\.1:(\d+)/g;
    try {
      const [, first] = await dev.waitFor(listening, 1, 30_000);
      assert.equal((await request({ port: Number(first) }, { path: '/' })).body, 'Hello, World');
      const app = join(project, 'src/app.ts');
      writeFileSync(app, readFileSync(app, 'utf8').replace("'Hello, World'", "'Hello, dev'"));
      // PORT=0: the restarted server listens on a port of its own.
      const [, second] = await dev.waitFor(listening, 2, 30_000);
      assert.equal((await request({ port: Number(second) }, { path: '/' })).body, 'Hello, dev');
      assert.match(dev.output(), /GET \/ 200 [\d.]+ ms/);
      await dev.stop();
      await assert.rejects(request({ port: Number(second) }, { path: '/' }), /ECONNREFUSED/);
    } finally {
      await dev.stop();
    }
  });
});
