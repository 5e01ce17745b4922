// The package as a user gets it: `npm pack`, then a new project that follows the README's Hello World
// steps literally (`npm init -y`, `"type": "module"`, `npm install` the tarball, tsx …) and compiles
// the README's examples plus test/fixtures/consumer/check.ts under strict NodeNext settings with
// skipLibCheck off and no driver typings installed, then runs them.
//
// Slow (about 2 minutes here on Node 20, most of it compiling better-sqlite3 12 for the new project; less
// on Node 22 and later, where better-sqlite3 13 comes prebuilt), so it runs only in CI (CI=true, as
// .ci/run sets) or with WEIR_PACK_TEST=1.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from '../helpers/http.ts';
import { copyWorkingTree, scratchEnv, sh } from '../helpers/npm.ts';

const root = new URL('../..', import.meta.url).pathname;
const enabled = process.env.WEIR_PACK_TEST === '1' || process.env.CI === 'true' || process.env.CI === '1';

const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The npm commands of the README's Hello World, each split into its arguments. */
function helloSteps(): string[][] {
  const block = /^## Hello, World\n[\s\S]*?^```sh\n([\s\S]*?)^```/m.exec(readme)?.[1];
  assert.ok(block, 'the README has no sh block under "## Hello, World"');
  const steps = block
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => line.trim().split(/\s+/));
  for (const [command] of steps) assert.equal(command, 'npm', 'a Hello World step that is not npm');
  assert.ok(
    steps.some((step) => step.join(' ') === 'npm pkg set type=module'),
    'the Hello World steps make the project an ES module',
  );
  return steps.map((step) => step.slice(1));
}

/** Starts a Hello World, returns the port it printed (PORT=0 picks one), and a way to stop it. */
async function startHello(args: string[], cwd: string): Promise<{ port: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd,
    env: { ...scratchEnv(), PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((done) => child.on('exit', done));
  const port = await new Promise<number>((found, failed) => {
    const timer = setTimeout(() => failed(new Error(`no "listening" line in 30 s: ${out}`)), 30_000);
    const read = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"http:\/\/[^"]+:(\d+)"/.exec(out);
      if (match !== null) {
        clearTimeout(timer);
        found(Number(match[1]));
      }
    };
    child.stdout!.on('data', read);
    child.stderr!.on('data', read);
    child.on('exit', (code) => {
      clearTimeout(timer);
      failed(new Error(`${args.join(' ')} exited with ${code}: ${out}`));
    });
  });
  return {
    port,
    async stop() {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out);
    },
  };
}

describe('the packed package', {
  skip: enabled ? false : 'set WEIR_PACK_TEST=1 (about 2 min) or CI=true',
}, () => {
  let scratch: string;
  let project: string;
  let files: string[];

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'weir-pack-'));
    project = join(scratch, 'hello');
    // `npm pack` runs `prepare`, which builds dist/ from scratch: the tarball is what a publish would ship.
    // It packs a copy of the working tree, so the build neither rewrites the checkout's dist/ nor races
    // another test that packs.
    const source = join(scratch, 'source');
    await copyWorkingTree(root, source);
    await sh('npm', ['pack', '--pack-destination', scratch], source, 180_000);
    const tarball = readdirSync(scratch).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, `npm pack left no tarball in ${scratch}`);
    files = (await sh('tar', ['-tzf', join(scratch, tarball)], scratch, 30_000))
      .split('\n')
      .filter((line) => line !== '' && !line.endsWith('/'))
      .map((line) => line.replace(/^package\//, ''));

    // The README's Hello World steps, as written there, with the tarball just packed.
    mkdirSync(project);
    for (const step of helloSteps()) {
      const args = step.map((arg) => (/^\.\/weir-[^/]*\.tgz$/.test(arg) ? join(scratch, tarball) : arg));
      if (args[0] === 'install') args.push('--no-audit', '--no-fund', '--prefer-offline');
      await sh('npm', args, project, 480_000);
    }
    for (const name of readdirSync(join(root, 'examples/readme'))) {
      copyFileSync(join(root, 'examples/readme', name), join(project, name));
    }
    for (const name of ['check.ts', 'tsconfig.json']) {
      copyFileSync(join(root, 'test/fixtures/consumer', name), join(project, name));
    }
  });

  after(() => {
    if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
  });

  it('ships dist/ with declarations and maps, the src/ they point to, LICENSE, and no tests or benchmarks', () => {
    for (const required of ['package.json', 'README.md', 'LICENSE', 'bin/weir.js', 'dist/cli/main.js']) {
      assert.ok(files.includes(required), `${required} is not in the tarball`);
    }
    const stray = files.filter(
      (f) => !/^(package\.json|README\.md|LICENSE|bin\/[^/]+\.js|dist\/.+|src\/.+\.(ts|sql))$/.test(f),
    );
    assert.deepEqual(stray, [], 'files outside dist/, src/ and bin/');
    // The session store's migrations, which the compiled code finds beside itself.
    for (const engine of ['sqlite', 'postgres']) {
      const migration = `dist/security/migrations/${engine}/weir_sessions_1.sql`;
      assert.ok(files.includes(migration), `${migration} is not in the tarball`);
    }
    const js = files.filter((f) => f.startsWith('dist/') && f.endsWith('.js'));
    assert.ok(js.length > 20, `only ${js.length} .js files in dist/`);
    for (const file of js) {
      const base = file.slice(0, -'.js'.length);
      for (const companion of [`${base}.d.ts`, `${base}.d.ts.map`, `${file}.map`]) {
        assert.ok(files.includes(companion), `${companion} is missing beside ${file}`);
      }
    }
    // Go-to-definition: every declaration map names a source file that ships.
    const installed = join(project, 'node_modules/weir');
    for (const map of files.filter((f) => f.endsWith('.d.ts.map'))) {
      const { sources } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[] };
      for (const source of sources) {
        assert.ok(
          existsSync(resolve(dirname(join(installed, map)), source)),
          `${map} points to missing ${source}`,
        );
      }
    }
  });

  it('installs without the driver typings, and a strict NodeNext project with skipLibCheck off compiles', async () => {
    for (const typing of ['@types/pg', '@types/better-sqlite3']) {
      assert.equal(existsSync(join(project, 'node_modules', typing)), false, `${typing} was installed`);
    }
    const config = JSON.parse(readFileSync(join(project, 'tsconfig.json'), 'utf8'));
    assert.equal(config.compilerOptions.skipLibCheck, false);
    assert.equal(config.compilerOptions.strict, true);
    await sh(
      process.execPath,
      [join(project, 'node_modules/typescript/bin/tsc'), '-p', '.'],
      project,
      180_000,
    );
    assert.ok(existsSync(join(project, 'build/check.js')));
  });

  it('runs the Hello World as the README says (node --import tsx hello.ts), and compiled', async () => {
    assert.ok(
      readme.includes('Run it with `node --import tsx hello.ts`'),
      'the README runs hello.ts otherwise',
    );
    const ways = [['--import', 'tsx', 'hello.ts'], ['build/hello.js']];
    // The README says Node 22.18 and later run it with no tsx.
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    if (major > 22 || (major === 22 && minor >= 18)) ways.push(['hello.ts']);
    for (const args of ways) {
      const hello = await startHello(args, project);
      try {
        assert.equal((await request(hello, { path: '/' })).body, 'Hello, World');
        assert.equal((await request(hello, { path: '/hello/pack' })).body, 'Hello, pack');
        assert.equal((await request(hello, { path: '/json' })).body, '{"message":"Hello, World!"}');
      } finally {
        await hello.stop();
      }
    }
  });

  it('gives a project on Node 22 or later better-sqlite3 13, and one on Node 20 better-sqlite3 12', () => {
    // 13 needs Node 22 (it crashes on 20); 12 can abort the process at exit on Node 24. weir's range
    // allows both, and npm picks the newest whose engines match the Node it runs on.
    const { version } = JSON.parse(
      readFileSync(join(project, 'node_modules/better-sqlite3/package.json'), 'utf8'),
    ) as { version: string };
    const expected = Number(process.versions.node.split('.')[0]) >= 22 ? '13' : '12';
    assert.equal(version.split('.')[0], expected, `better-sqlite3 ${version} on Node ${process.version}`);
  });

  it('runs the tour through weir/testing and uses weir/db, weir/cache, weir/queue and weir/cluster', async () => {
    const out = await sh(process.execPath, ['build/check.js'], project, 60_000);
    assert.match(out, /^consumer ok$/m);
  });

  it('opens a SQL session store from the compiled package, which finds its migrations beside it', async () => {
    const open = join(project, 'node_modules/weir/dist/security/stores/open.js');
    const script = `
      const { openSessionStore } = await import(${JSON.stringify(open)});
      const store = await openSessionStore('sqlite::memory:');
      await store.set('k', { data: '{}', createdAt: Date.now(), expiresAt: Date.now() + 60000 });
      console.log('sessions', await store.size());
      await store.close();`;
    const out = await sh(process.execPath, ['--input-type=module', '-e', script], project, 60_000);
    assert.match(out, /^sessions 1$/m);
  });

  it('answers npx weir --version with the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    assert.equal((await sh('npx', ['--no-install', 'weir', '--version'], project, 60_000)).trim(), version);
  });
});
