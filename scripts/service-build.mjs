// The reference service compiled to JavaScript (for `npm start`): examples/service/*.ts transpiled file by
// file, beside symlinks to its migrations/ and public/ folders, in .build/service/<hash>/ (WEIR_BUILD_DIR
// instead of .build when set, for tests), where the hash
// covers every source file's path, size and time. A build is made in a folder of its own and renamed into
// place, so starts that race each other never see half of one. weir's own imports resolve to dist/ (the
// package's exports, without the weir-source condition), which must be at least as new as src/.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

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
  const base = join(process.env.WEIR_BUILD_DIR || join(root, '.build'), 'service');
  const out = join(base, hash.digest('hex').slice(0, 16));
  const main = join(out, 'main.js');
  return { main, ready: existsSync(main) && !distStale(root), source, files, base, out };
}

/**
 * Returns the path of the compiled main.js, building what is missing or stale first. `buildWeir()` is
 * called when dist/ is missing or older than src/.
 */
export async function ensureServiceBuild({ root, buildWeir }) {
  if (distStale(root))
    await underLock(join(root, '.build', 'dist.lock'), () => distStale(root) && buildWeir());
  const { main, source, files, base, out } = serviceBuild({ root });
  if (existsSync(main)) return main;

  const ts = createRequire(join(root, 'package.json'))('typescript');
  // The builds' own package scope: ES modules, and `weir` resolving to this checkout wherever they are.
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
  link(root, 'weir');
  // The service's own imports besides weir (valibot for its schemas) are weir's dependencies: each
  // resolves to the checkout's copy, so a build outside it (WEIR_BUILD_DIR) finds them too.
  const { dependencies = {} } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  for (const name of Object.keys(dependencies)) {
    const target = join(root, 'node_modules', name);
    if (existsSync(target)) link(target, name);
  }
  const staging = join(base, `.staging-${process.pid}-${Date.now()}`);
  mkdirSync(staging, { recursive: true });
  try {
    for (const { path } of files) {
      const rel = relative(source, path);
      if (!path.endsWith('.ts') || rel.includes('/')) continue; // folders are linked below
      const { outputText, diagnostics } = ts.transpileModule(readFileSync(path, 'utf8'), {
        fileName: path,
        reportDiagnostics: true,
        compilerOptions: {
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.ESNext,
          verbatimModuleSyntax: true,
          rewriteRelativeImportExtensions: true,
          sourceMap: false,
        },
      });
      if (diagnostics?.length) {
        const text = ts.flattenDiagnosticMessageText(diagnostics[0].messageText, '\n');
        throw new Error(`examples/service/${rel} does not compile: ${text}`);
      }
      writeFileSync(join(staging, rel.replace(/\.ts$/, '.js')), outputText);
    }
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
// that the compiler never stays loaded in the service) and prints the path of main.js.
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
