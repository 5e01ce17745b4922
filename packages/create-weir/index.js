// @ts-check
/**
 * `npm create weir my-app`: writes a new weir project into a new (or empty) folder. Plain JavaScript, so
 * it runs straight from its package with no build step; `// @ts-check` and the JSDoc types below let the
 * repository's strict type check cover it.
 *
 * Never overwrites: a folder with anything in it (but `.git`) is refused before a file is written, and
 * each file is created with the `wx` flag, so one that appears meanwhile fails the run instead of being
 * replaced. It installs nothing: the next steps it prints do.
 */
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** @type {{ version: string, engines: { node: string } }} */
const self = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));
const TEMPLATE = fileURLToPath(new URL('./template/', import.meta.url));

/** Template files stored under another name: npm leaves every `.gitignore` out of a package. */
const RENAMED = /** @type {Record<string, string>} */ ({ gitignore: '.gitignore' });

/**
 * The new project's development tools, at the ranges weir itself is developed with (a test keeps them
 * equal to the repository's devDependencies).
 */
export const DEV_DEPENDENCIES = Object.freeze({
  '@types/node': '^20.19.43',
  tsx: '^4.23.15',
  typescript: '^5.9.3',
});

/** The weir the new project depends on unless `--weir-spec` says otherwise: create-weir's own version. */
export const DEFAULT_WEIR_SPEC = `^${self.version}`;

const USAGE = `Usage: npm create weir@latest <folder> [-- --weir-spec <spec>]
       create-weir <folder> [--weir-spec <spec>]

Creates <folder> (new, or empty) with a weir project: src/app.ts (the app), src/main.ts (listens on PORT),
test/app.test.ts (inject() from weir/testing), tsconfig.json, .env.example, and the scripts
dev, build, start and test. The project's name is the folder's name. Nothing is installed or overwritten.

Options:
  --weir-spec <spec>   the weir dependency: a version range, a tarball or folder path, a git URL
                       (default ${DEFAULT_WEIR_SPEC})
  -h, --help           this text
  -v, --version        create-weir's version`;

/** A refusal: printed as one line, exit code 1. */
export class CreateError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'CreateError';
  }
}

/** Where the CLI writes; replaced in tests. @typedef {{ out(line: string): void, err(line: string): void }} Io */

/** @type {Io} */
const defaultIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * Whether `c` (one UTF-16 unit) is a C0 or C1 control character or a line or paragraph separator: what
 * would break a one-line message or move a terminal's cursor.
 * @param {string} c
 */
function isControl(c) {
  const n = c.charCodeAt(0);
  return n < 0x20 || (n >= 0x7f && n <= 0x9f) || n === 0x2028 || n === 0x2029;
}

/** @param {string} value */
const hasControl = (value) => [...value].some(isControl);

/**
 * A user's value made safe to print on one line: quoted, control characters escaped, at most 60
 * characters of it.
 * @param {string} value
 */
function quote(value) {
  const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
  // JSON.stringify escapes C0 controls, quotes and backslashes; C1 controls and U+2028/2029 it leaves.
  return [...JSON.stringify(shown)]
    .map((c) => (isControl(c) ? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}` : c))
    .join('');
}

/**
 * Why `name` cannot be the name of a new npm package, or `undefined` if it can. The rules of npm's
 * validate-npm-package-name for new packages; a scoped name does not arise, as the name is a folder's.
 * @param {string} name
 * @returns {string | undefined}
 */
export function nameProblem(name) {
  if (name.length === 0) return 'is empty';
  if (name.length > 214) return `is ${name.length} characters long (npm allows 214)`;
  if (name.trim() !== name) return 'starts or ends with a space';
  if (name.startsWith('.')) return 'starts with a period';
  if (name.startsWith('_')) return 'starts with an underscore';
  if (name.toLowerCase() !== name) return 'has capital letters (npm names are lowercase)';
  if (/[~'!()*]/.test(name)) return "has one of the characters ~'!()*";
  if (encodeURIComponent(name) !== name)
    return 'has characters other than a-z, 0-9 and - . _ (it must be URL-safe)';
  if (name === 'node_modules' || name === 'favicon.ico') return 'is a name npm reserves';
  if (builtinModules.includes(name)) return 'is the name of a Node.js built-in module';
  return undefined;
}

/**
 * The dependency spec written for weir: a path (one that starts with `.` or `/`, or names a `.tgz`)
 * becomes an absolute `file:` spec, since the project lives elsewhere than where the command ran.
 * @param {string} spec
 * @param {string} cwd
 */
function weirDependency(spec, cwd) {
  if (spec.length === 0 || spec.length > 1000 || hasControl(spec)) {
    throw new CreateError(`--weir-spec ${quote(spec)} is not a version, a path or a URL`);
  }
  const path = spec.startsWith('file:') ? spec.slice('file:'.length) : spec;
  if (!/^[./]/.test(path) && !path.endsWith('.tgz')) return spec;
  const absolute = resolve(cwd, path);
  try {
    lstatSync(absolute);
  } catch {
    throw new CreateError(`--weir-spec ${quote(spec)}: no such file or folder (${absolute})`);
  }
  return `file:${absolute}`;
}

/**
 * @typedef {object} ScaffoldOptions
 * @property {string} target the folder to create: a path, relative to `cwd`; `.` is `cwd` itself
 * @property {string} [weirSpec] the weir dependency (default {@link DEFAULT_WEIR_SPEC})
 * @property {string} [cwd] default `process.cwd()`
 */

/**
 * @typedef {object} Scaffolded
 * @property {string} dir the project's absolute path
 * @property {string} name its package name
 * @property {string[]} files the files written, relative to `dir`, in the order written
 * @property {string} weir the weir dependency written into its package.json
 */

/**
 * Writes a new project into `target`.
 * @param {ScaffoldOptions} options
 * @returns {Scaffolded}
 * @throws {CreateError} for a bad name or spec, or a folder that is a file or not empty
 */
export function scaffold({ target, weirSpec = DEFAULT_WEIR_SPEC, cwd = process.cwd() }) {
  if (target.length === 0 || hasControl(target)) {
    throw new CreateError(`${quote(target)} cannot be a folder name`);
  }
  const dir = resolve(cwd, target);
  const name = basename(dir);
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw new CreateError(`the folder's name ${quote(name)} becomes the package name, and it ${problem}`);
  }
  const weir = weirDependency(weirSpec, cwd);
  refuseOccupied(dir);

  const files = [
    ...templateFiles(TEMPLATE).map((file) => ({
      path: RENAMED[file] ?? file,
      text: readFileSync(join(TEMPLATE, file), 'utf8').replaceAll('{{name}}', name),
    })),
    { path: 'package.json', text: `${JSON.stringify(manifest(name, weir), null, 2)}\n` },
  ].sort((a, b) => a.path.localeCompare(b.path));
  mkdirSync(dir, { recursive: true });
  for (const file of files) {
    const path = join(dir, file.path);
    mkdirSync(join(path, '..'), { recursive: true });
    try {
      writeFileSync(path, file.text, { flag: 'wx' });
    } catch (err) {
      if (/** @type {NodeJS.ErrnoException} */ (err).code !== 'EEXIST') throw err;
      throw new CreateError(
        `${file.path} appeared in ${dir} while it was being written; it was left as it is`,
      );
    }
  }
  return { dir, name, files: files.map((f) => f.path), weir };
}

/**
 * Refuses a path that is a file, or a folder with anything in it but `.git` (a `git init` first is fine).
 * @param {string} dir
 */
function refuseOccupied(dir) {
  /** @type {string[]} */
  let entries;
  try {
    entries = readdirSync(dir);
  } catch (err) {
    const code = /** @type {NodeJS.ErrnoException} */ (err).code;
    if (code === 'ENOENT') return;
    if (code === 'ENOTDIR') throw new CreateError(`${dir} is a file, not a folder`);
    throw err;
  }
  const present = entries.filter((entry) => entry !== '.git');
  if (present.length > 0) {
    const some = present.slice(0, 3).map(quote).join(', ');
    throw new CreateError(
      `${dir} is not empty (${present.length === 1 ? some : `${present.length} entries: ${some}…`}): choose a new folder`,
    );
  }
}

/**
 * Every file under the template folder, as relative paths.
 * @param {string} root
 * @returns {string[]}
 */
function templateFiles(root) {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath ?? entry.path, entry.name)));
}

/**
 * The new project's package.json.
 * @param {string} name
 * @param {string} weir
 */
function manifest(name, weir) {
  return {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: self.engines.node },
    scripts: {
      dev: 'weir dev src/main.ts',
      build: 'tsc -p tsconfig.build.json',
      start: 'node dist/main.js',
      test: 'node --import tsx --test test/*.test.ts',
      typecheck: 'tsc',
    },
    dependencies: { weir },
    devDependencies: { ...DEV_DEPENDENCIES },
    // npm 11 lists install scripts nobody approved: better-sqlite3 (weir's embedded SQLite) builds or
    // fetches its binary, esbuild (under tsx) checks its own.
    allowScripts: { 'better-sqlite3': true, esbuild: true },
  };
}

/**
 * Runs create-weir; resolves with the exit code.
 * @param {readonly string[]} argv
 * @param {Io} [io]
 * @param {string} [cwd]
 * @returns {Promise<number>}
 */
export async function run(argv, io = defaultIo, cwd = process.cwd()) {
  /** @type {{ values: { 'weir-spec'?: string, help?: boolean, version?: boolean }, positionals: string[] }} */
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        'weir-spec': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    io.err(`create-weir: ${/** @type {Error} */ (err).message.split('\n')[0]}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (values.version) {
    io.out(self.version);
    return 0;
  }
  if (positionals.length !== 1) {
    io.err(
      `create-weir: ${positionals.length === 0 ? 'name the folder to create' : `one folder at a time, not ${positionals.length}`}: npm create weir@latest my-app\n\n${USAGE}`,
    );
    return 2;
  }
  /** @type {Scaffolded} */
  let made;
  try {
    made = scaffold({ target: /** @type {string} */ (positionals[0]), weirSpec: values['weir-spec'], cwd });
  } catch (err) {
    if (!(err instanceof CreateError)) throw err;
    io.err(`create-weir: ${err.message}`);
    return 1;
  }
  const where = relative(cwd, made.dir);
  const cd =
    where === '' ? [] : [`  cd ${/^[\w./-]+$/.test(where) ? where : `'${where.replaceAll("'", "'\\''")}'`}`];
  io.out(
    [
      `Created ${made.name} in ${made.dir}, with weir ${made.weir}. Next:`,
      ...cd,
      '  npm install',
      '  npm run dev     # serves http://127.0.0.1:8080 and restarts on every change',
      '  npm test',
    ].join('\n'),
  );
  return 0;
}

/**
 * The process entry of `create-weir`: runs it and exits with its code.
 * @param {readonly string[]} argv
 */
export async function main(argv) {
  process.exitCode = await run(argv);
}
