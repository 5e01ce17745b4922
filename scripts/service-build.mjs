// The reference service compiled to JavaScript (for `npm start`): examples/service bundled with weir's
// dist/ by esbuild into .build/service/<hash>/ (WEIR_BUILD_DIR instead of .build when set, for tests),
// beside symlinks to its migrations/ and public/ folders. The hash covers every source file's path, size
// and time, the dist/ build it holds, and this script (a changed way of bundling is a new build). A build
// is made in a folder of its own and renamed into place, so starts that race each other never see half
// of one. weir comes from dist/ (the package's exports, without the weir-source condition), which must be
// at least as new as src/.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Builds that are not the current one and older than this are removed. */
const KEEP_OLD_MS = 24 * 60 * 60 * 1000;

/** Every file under `dir` (recursively) with its stat, skipping names that start with a dot. */
function walk(dir, files = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, files);
    else if (entry.isFile()) files.push({ path, stat: statSync(path) });
  }
  return files;
}

/**
 * Runs `fn` while holding a lock folder (mkdir is atomic): starts that race on a stale dist/ build it
 * once. A lock older than two minutes is a crashed build's, and is taken over.
 */
async function underLock(lock, fn) {
  mkdirSync(join(lock, '..'), { recursive: true });
  for (let waited = 0; ; waited += 100) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      if (waited > 120_000 || Date.now() - statSync(lock).mtimeMs > 120_000) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

const newest = (files) => files.reduce((max, f) => Math.max(max, f.stat.mtimeMs), 0);

/** Whether dist/ is missing or older than src/. */
function distStale(root) {
  const distIndex = join(root, 'dist', 'index.js');
  return !existsSync(distIndex) || newest(walk(join(root, 'src'))) > statSync(distIndex).mtimeMs;
}

/**
 * Where the build of the service's current sources is (`main`: its main.js), and whether it can run as
 * it is (`ready`: built, and dist/ not older than src/). Reads file times only: this is a start's cost.
 */
export function serviceBuild({ root }) {
  const source = join(root, 'examples', 'service');
  const files = walk(source);
  const hash = createHash('sha256');
  for (const { path, stat } of files)
    hash.update(`${relative(source, path)}\0${stat.size}\0${stat.mtimeMs}\n`);
  // The bundle holds weir's dist/ as it was, and names its files by absolute path: a new dist/ (each
  // build replaces every file) or a checkout that moved is a new build.
  const distIndex = join(root, 'dist', 'index.js');
  if (existsSync(distIndex)) hash.update(`${root}\0${statSync(distIndex).mtimeMs}\n`);
  // It also holds the packages of INLINE and what they import, as installed: a new install (`npm ci`, an
  // update: npm rewrites its record of node_modules) is a new build, so an upgraded package is not left
  // out of the service until its sources change.
  const installed = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(installed)) {
    const stat = statSync(installed);
    hash.update(`${stat.size}\0${stat.mtimeMs}\n`);
  }
  const self = statSync(fileURLToPath(import.meta.url));
  hash.update(`${self.size}\0${self.mtimeMs}\n`);
  const base = join(process.env.WEIR_BUILD_DIR || join(root, '.build'), 'service');
  const out = join(base, hash.digest('hex').slice(0, 16));
  const main = join(out, 'main.js');
  return { main, ready: existsSync(main) && !distStale(root), source, files, base, out };
}

/** weir itself, bundled from dist/ (see {@link bundle}). */
const WEIR = /^weir(\/|$)/;

/**
 * Packages bundled with weir because a start loads them: plain JavaScript that finds no files of its own.
 * Loaded from node_modules, each is tens of files resolved and read one by one (prom-client with
 * @opentelemetry/api, some eighty: ~50 ms on a slow disk; one bundled file, ~20 ms). What they import is
 * bundled with them.
 */
const INLINE = new Set([
  'pino',
  'sonic-boom',
  'prom-client',
  'valibot',
  '@valibot/to-json-schema',
  'cookie',
  'lru-cache',
  'secure-json-parse',
]);

/** `pino` of `pino/file`, `@valibot/to-json-schema` of itself. */
const packageName = (specifier) => specifier.split('/', specifier.startsWith('@') ? 2 : 1).join('/');

/**
 * weir's way to load a package lazily from an ES module (`const require = createRequire(import.meta.url)`,
 * then `require('prom-client')` where it is first needed) becomes a plain `require()` in the bundle, which
 * esbuild bundles (evaluated where it was, still lazily) or, for a package left out, turns into a call of
 * the `require` each output file defines (see the banner below).
 */
const LAZY_REQUIRE = /^const require = createRequire\(import\.meta\.url\);$/m;

/**
 * Bundles the service from `entry` with weir's dist/ into `outdir` (main.js, and a chunk per dynamic
 * import): a start then reads a handful of files instead of some two hundred modules, each resolved and
 * loaded on its own (Node 20 has no compile cache, and ES module loading is per file on every version).
 * The packages of {@link INLINE} are bundled too; others stay imports, resolved at run time as before:
 * native ones (better-sqlite3), drivers weir loads only when their URL is used, and packages that find
 * files of their own. weir's code that finds files beside its own (its SQL migrations, its worker's entry,
 * `createRequire`) gets its file's own URL for `import.meta.url`; the service's own `import.meta.url` is
 * the bundle's, beside which its folders are linked.
 */
async function bundle(build, entry, outdir, root) {
  // esbuild hands over real paths: a checkout reached through a symbolic link must still match.
  const dist = join(realpathSync(root), 'dist') + sep;
  try {
    await build({
      absWorkingDir: root,
      entryPoints: [entry],
      outdir,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      // A `require()` of a package left out, or of Node's own modules from a bundled CommonJS package.
      banner: {
        js: "import { createRequire as __weirCreateRequire } from 'node:module';\nconst require = __weirCreateRequire(import.meta.url);",
      },
      target: 'node20', // the oldest Node weir supports: a build serves every line
      logLevel: 'silent',
      plugins: [
        {
          name: 'weir-service',
          setup(b) {
            b.onResolve({ filter: /^[^./]/ }, (args) => {
              if (args.path.startsWith('node:')) return { external: true };
              if (WEIR.test(args.path) || INLINE.has(packageName(args.path))) return undefined;
              // What a bundled package imports is bundled with it.
              if (args.importer.includes(`${sep}node_modules${sep}`)) return undefined;
              return { external: true };
            });
            b.onLoad({ filter: /\.js$/ }, async (args) => {
              if (!args.path.startsWith(dist)) return undefined;
              const text = (await readFile(args.path, 'utf8')).replace(LAZY_REQUIRE, '');
              return {
                contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
                loader: 'js',
              };
            });
          },
        },
      ],
    });
  } catch (err) {
    const first = err.errors?.[0];
    if (first === undefined) throw err;
    const where = first.location ? `${first.location.file}:${first.location.line}: ` : '';
    throw new Error(`the service does not compile: ${where}${first.text}`);
  }
}

/**
 * Returns the path of the compiled main.js, building what is missing or stale first. `buildWeir()` is
 * called when dist/ is missing or older than src/.
 */
export async function ensureServiceBuild({ root, buildWeir }) {
  if (distStale(root))
    await underLock(join(root, '.build', 'dist.lock'), () => distStale(root) && buildWeir());
  const { main, source, base, out } = serviceBuild({ root });
  if (existsSync(main)) return main;

  let build;
  try {
    ({ build } = createRequire(join(root, 'package.json'))('esbuild'));
  } catch (err) {
    if (err.code !== 'MODULE_NOT_FOUND') throw err;
    throw new Error(
      'esbuild, which bundles the service, is not installed: run `npm ci` (with dev dependencies)',
    );
  }
  // The builds' own package scope: ES modules, and the packages the bundle leaves out (below) resolving
  // to the checkout's copies wherever the builds are.
  mkdirSync(join(base, 'node_modules'), { recursive: true });
  writeFileSync(join(base, 'package.json'), '{ "private": true, "type": "module" }\n');
  const link = (target, name) => {
    mkdirSync(join(base, 'node_modules', name, '..'), { recursive: true });
    try {
      symlinkSync(target, join(base, 'node_modules', name), 'dir');
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
  };
  // weir itself is in the bundle. Every package weir or the service may import at run time (a driver
  // weir loads when its URL is used, valibot for the service's schemas) is one of weir's dependencies,
  // optional or not.
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const name of Object.keys({
    ...pkg.dependencies,
    ...pkg.optionalDependencies,
    ...pkg.peerDependencies,
  })) {
    const target = join(root, 'node_modules', name);
    if (existsSync(target)) link(target, name);
  }
  const staging = join(base, `.staging-${process.pid}-${Date.now()}`);
  mkdirSync(staging, { recursive: true });
  try {
    await bundle(build, join(source, 'main.ts'), staging, root);
    for (const entry of readdirSync(source, { withFileTypes: true })) {
      if (entry.isDirectory() && !entry.name.startsWith('.')) {
        symlinkSync(join(source, entry.name), join(staging, entry.name), 'dir');
      }
    }
    try {
      renameSync(staging, out);
    } catch (err) {
      // Another start built the same sources first: use its build.
      if (!existsSync(main)) throw err;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  for (const entry of readdirSync(base)) {
    if (entry === 'node_modules' || entry === 'package.json') continue;
    const path = join(base, entry);
    if (path !== out && Date.now() - statSync(path).mtimeMs > KEEP_OLD_MS) {
      rmSync(path, { recursive: true, force: true });
    }
  }
  return main;
}

// `node scripts/service-build.mjs`: builds what is missing (npm start runs it in a process of its own, so
// that the bundler never stays loaded in the service) and prints the path of main.js.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  try {
    const main = await ensureServiceBuild({
      root,
      buildWeir: () => {
        process.stderr.write('weir: src/ changed since dist/ was built: building it (npm run build)\n');
        const run = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
        if (run.status !== 0) throw new Error('npm run build failed (see above)');
      },
    });
    process.stdout.write(`${main}\n`);
  } catch (err) {
    process.stderr.write(`weir: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
