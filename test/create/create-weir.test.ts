// create-weir on folders of its own: what it writes, what it refuses, and that the project it writes passes
// its own tests and type check against this checkout's weir. The same from the two packed tarballs, with
// npm install, build, start and dev, is create-weir-packed.test.ts (slow, in CI).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_WEIR_SPEC, DEV_DEPENDENCIES, nameProblem, run } from '../../packages/create-weir/index.js';
import { scratchEnv, sh } from '../helpers/npm.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'packages/create-weir/bin/create-weir.js');

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  type?: string;
  engines: { node: string };
  scripts: Record<string, string>;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, 'utf8')) as T;
const weir = readJson<Manifest>(join(root, 'package.json'));
const createWeir = readJson<Manifest>(join(root, 'packages/create-weir/package.json'));

/** Runs create-weir in `cwd` and collects what it prints. */
async function create(argv: string[], cwd: string) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await run(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, cwd);
  return { code, out: out.join('\n'), err };
}

/** Every file under `dir`, relative, sorted. */
function filesIn(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

const EXPECTED_FILES = [
  '.env.example',
  '.gitignore',
  'README.md',
  'package.json',
  'src/app.ts',
  'src/env.ts',
  'src/main.ts',
  'test/app.test.ts',
  'tsconfig.build.json',
  'tsconfig.json',
];

describe('create-weir', () => {
  let scratch: string;
  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'create-weir-'));
  });
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('writes the project into a new folder: ES module, the four scripts, weir at its own version, and the next steps', async () => {
    const { code, out, err } = await create(['my-app'], scratch);
    assert.equal(code, 0, err.join('\n'));
    const dir = join(scratch, 'my-app');
    assert.deepEqual(filesIn(dir), EXPECTED_FILES);
    const pkg = readJson<Manifest>(join(dir, 'package.json'));
    assert.equal(pkg.name, 'my-app');
    assert.equal(pkg.type, 'module');
    assert.equal(pkg.private, true);
    assert.deepEqual(pkg.scripts, {
      dev: 'weir dev src/main.ts',
      build: 'tsc -p tsconfig.build.json',
      start: 'node dist/main.js',
      test: 'node --import tsx --test test/*.test.ts',
      typecheck: 'tsc',
    });
    assert.deepEqual(pkg.dependencies, { weir: `^${weir.version}` });
    assert.deepEqual(Object.keys(pkg.devDependencies).sort(), ['@types/node', 'tsx', 'typescript']);
    assert.match(
      out,
      /^Created my-app in .*my-app, with weir \^\d+\.\d+\.\d+\. Next:\n {2}cd my-app\n {2}npm install\n/,
    );
    assert.match(readFileSync(join(dir, 'README.md'), 'utf8'), /^# my-app\n/);
    assert.match(readFileSync(join(dir, '.gitignore'), 'utf8'), /^node_modules\/$/m);
  });

  it('keeps its versions in step with the repository: create-weir is weir’s version and engines, the dev tools are weir’s', () => {
    assert.equal(createWeir.version, weir.version);
    assert.equal(DEFAULT_WEIR_SPEC, `^${weir.version}`);
    assert.equal(createWeir.engines.node, weir.engines.node);
    for (const [name, range] of Object.entries(DEV_DEPENDENCIES)) {
      assert.equal(range, weir.devDependencies[name], `${name} differs from the repository's`);
    }
    const pkg = readJson<Manifest>(join(scratch, 'my-app', 'package.json'));
    assert.equal(pkg.engines.node, weir.engines.node);
  });

  it('writes a package.json npm itself reads as valid (npm pack --dry-run names the tarball)', async () => {
    const json = await sh(
      'npm',
      ['pack', '--dry-run', '--json', '--ignore-scripts'],
      join(scratch, 'my-app'),
      60_000,
    );
    const [packed] = JSON.parse(json) as { name: string; version: string; filename: string }[];
    assert.deepEqual([packed?.name, packed?.filename], ['my-app', 'my-app-0.1.0.tgz']);
  });

  it('documents every setting in .env.example, each under a comment, and main.ts listens on PORT and HOST', () => {
    const dir = join(scratch, 'my-app');
    const lines = readFileSync(join(dir, '.env.example'), 'utf8').split('\n');
    for (const name of ['PORT', 'HOST', 'LOG_LEVEL', 'DATABASE_URL', 'CACHE_URL', 'QUEUE_URL']) {
      const at = lines.findIndex((line) => line.startsWith(`${name}=`));
      assert.ok(at > 0, `.env.example sets no ${name}`);
      assert.match(lines[at - 1]!, /^(# |[A-Z_]+=)/, `${name} has no comment above it`);
    }
    const main = readFileSync(join(dir, 'src/main.ts'), 'utf8');
    assert.match(main, /process\.env\.PORT/);
    assert.match(main, /process\.env\.HOST/);
    assert.match(
      main,
      /^import '\.\/env\.ts';\nimport \{ app \} from '\.\/app\.ts';/,
      'env.ts must load before the app',
    );
  });

  it('creates nested folders, and fills an empty folder or one holding only .git', async () => {
    assert.equal((await create(['apps/api'], scratch)).code, 0);
    assert.equal(readJson<Manifest>(join(scratch, 'apps/api/package.json')).name, 'api');
    mkdirSync(join(scratch, 'empty'));
    assert.equal((await create(['.'], join(scratch, 'empty'))).code, 0);
    assert.equal(readJson<Manifest>(join(scratch, 'empty/package.json')).name, 'empty');
    mkdirSync(join(scratch, 'repo/.git'), { recursive: true });
    const { code, out } = await create(['repo'], scratch);
    assert.equal(code, 0);
    assert.match(out, /\n {2}cd repo\n/);
    assert.deepEqual(filesIn(join(scratch, 'repo')), EXPECTED_FILES);
  });

  it('refuses a folder that is not empty, in one line with exit code 1, and leaves it as it was', async () => {
    const dir = join(scratch, 'taken');
    mkdirSync(dir);
    writeFileSync(join(dir, 'package.json'), '{"name":"mine"}');
    const { code, err } = await create(['taken'], scratch);
    assert.equal(code, 1);
    assert.equal(err.length, 1);
    assert.match(err[0]!, /^create-weir: \S+taken is not empty \("package\.json"\): choose a new folder$/);
    assert.deepEqual(readdirSync(dir), ['package.json']);
    assert.equal(readFileSync(join(dir, 'package.json'), 'utf8'), '{"name":"mine"}');
    // The project written by the first test is not empty either: a second run changes nothing.
    const again = await create(['my-app'], scratch);
    assert.equal(again.code, 1);
    assert.match(again.err[0]!, /is not empty \(8 entries: /);
  });

  it('refuses a path that is a file', async () => {
    writeFileSync(join(scratch, 'plain'), 'x');
    const { code, err } = await create(['plain'], scratch);
    assert.equal(code, 1);
    assert.match(err[0]!, /^create-weir: \S+plain is a file, not a folder$/);
    assert.equal(readFileSync(join(scratch, 'plain'), 'utf8'), 'x');
  });

  it('refuses names npm would refuse, and control characters, in one escaped line, creating nothing', async () => {
    const bad: [string, RegExp][] = [
      ['MyApp', /has capital letters/],
      ['.hidden', /starts with a period/],
      ['_private', /starts with an underscore/],
      ['node_modules', /reserves/],
      ['http', /built-in module/],
      ['fs', /built-in module/],
      ['a'.repeat(215), /is 215 characters long/],
      ['café', /URL-safe/],
      ['名前', /URL-safe/],
      ['my app', /URL-safe/],
      ['wow!', /~'!\(\)\*/],
      ["it's", /~'!\(\)\*/],
      ['a\r\nb', /cannot be a folder name/],
      ['tab\there', /cannot be a folder name/],
      ['c1\u0085x', /cannot be a folder name/],
      ['esc\u001b[2Jx', /cannot be a folder name/],
      ['', /cannot be a folder name/],
    ];
    const before = readdirSync(scratch).sort();
    for (const [name, why] of bad) {
      const { code, err } = await create([name], scratch);
      assert.equal(code, 1, `${JSON.stringify(name)} was accepted`);
      assert.equal(err.length, 1);
      assert.match(err[0]!, /^create-weir: /);
      assert.match(err[0]!, why, JSON.stringify(name));
      const control = [...err[0]!].find((c) => c.charCodeAt(0) < 0x20 || (c >= '\u007f' && c <= '\u009f'));
      assert.equal(control, undefined, 'a control character reached the terminal');
      assert.ok(err[0]!.length < 200, `a ${err[0]!.length}-character line`);
    }
    assert.deepEqual(readdirSync(scratch).sort(), before);
    for (const good of ['my-app', 'a', 'x.y', 'a_b', 'api2', 'a'.repeat(214)]) {
      assert.equal(nameProblem(good), undefined, good);
    }
  });

  it('writes --weir-spec as given (a range, a URL) or, for a path, as an absolute file: spec; refuses a missing path', async () => {
    const spec = (dir: string) => readJson<Manifest>(join(scratch, dir, 'package.json')).dependencies.weir;
    assert.equal((await create(['s1', '--weir-spec', '~0.1.2'], scratch)).code, 0);
    assert.equal(spec('s1'), '~0.1.2');
    assert.equal((await create(['s2', '--weir-spec', 'git+https://example.org/weir.git'], scratch)).code, 0);
    assert.equal(spec('s2'), 'git+https://example.org/weir.git');
    writeFileSync(join(scratch, 'weir-9.9.9.tgz'), '');
    assert.equal((await create(['s3', '--weir-spec', './weir-9.9.9.tgz'], scratch)).code, 0);
    assert.equal(spec('s3'), `file:${join(scratch, 'weir-9.9.9.tgz')}`);
    assert.equal((await create(['s4', '--weir-spec=weir-9.9.9.tgz'], scratch)).code, 0);
    assert.equal(spec('s4'), `file:${join(scratch, 'weir-9.9.9.tgz')}`);

    const missing = await create(['s5', '--weir-spec', './nowhere.tgz'], scratch);
    assert.equal(missing.code, 1);
    assert.match(missing.err[0]!, /--weir-spec "\.\/nowhere\.tgz": no such file or folder/);
    const control = await create(['s6', '--weir-spec', '1.0.0\n"x": "y"'], scratch);
    assert.equal(control.code, 1);
    assert.match(control.err[0]!, /^create-weir: --weir-spec "1\.0\.0\\n\\"x\\": \\"y\\"" is not a version/);
    assert.equal(existsSync(join(scratch, 's5')), false);
    assert.equal(existsSync(join(scratch, 's6')), false);
  });

  it('answers --help and --version with exit code 0, and bad usage with exit code 2 and the usage', async () => {
    const help = await create(['--help'], scratch);
    assert.equal(help.code, 0);
    assert.match(help.out, /^Usage: npm create weir@latest <folder>/);
    assert.match(help.out, /--weir-spec <spec>/);
    assert.equal((await create(['-v'], scratch)).out, createWeir.version);
    for (const argv of [[], ['a', 'b'], ['--force', 'x'], ['x', '--weir-spec']]) {
      const { code, err } = await create(argv, scratch);
      assert.equal(code, 2, argv.join(' '));
      assert.match(err[0]!, /^create-weir: .+\n\nUsage: /, argv.join(' '));
    }
  });

  it('runs as a command: the bin prints the version and exits 1 on a refusal', () => {
    const version = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(version.status, 0);
    assert.equal(version.stdout, `${createWeir.version}\n`);
    const refused = spawnSync(process.execPath, [bin, 'BAD'], {
      cwd: scratch,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(refused.status, 1);
    assert.match(
      refused.stderr,
      /^create-weir: the folder's name "BAD" becomes the package name, and it has capital letters/,
    );
  });

  it('writes a project whose own tests pass and whose type check passes against this checkout of weir', async () => {
    // Inside the repository (data/ is ignored by git), where the project's tools resolve from the
    // repository's node_modules; its own node_modules/weir is this checkout, read from source.
    mkdirSync(join(root, 'data'), { recursive: true });
    const parent = mkdtempSync(join(root, 'data', 'create-'));
    try {
      assert.equal((await create(['project'], parent)).code, 0);
      const project = join(parent, 'project');
      mkdirSync(join(project, 'node_modules'));
      symlinkSync(root, join(project, 'node_modules', 'weir'), 'dir');
      const test = spawnSync(
        process.execPath,
        ['--conditions=weir-source', '--import', 'tsx', '--test', 'test/app.test.ts'],
        { cwd: project, env: scratchEnv({ LOG_LEVEL: 'silent' }), encoding: 'utf8', timeout: 60_000 },
      );
      assert.equal(test.status, 0, test.stdout + test.stderr);
      assert.match(test.stdout, /^(# pass 4|ℹ pass 4)$/m); // TAP on Node 20/22, spec from 23 on
      assert.match(test.stdout, /^(# fail 0|ℹ fail 0)$/m);
      const tsc = spawnSync(
        process.execPath,
        [join(root, 'node_modules/typescript/bin/tsc'), '--customConditions', 'weir-source'],
        { cwd: project, env: scratchEnv(), encoding: 'utf8', timeout: 120_000 },
      );
      assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
