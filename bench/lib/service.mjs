// The reference service (examples/service) as the database, cache and queue runners run it: compiled as
// for production (buildService()), started on 127.0.0.1 (startTfbServer()), its TechEmpower answers checked,
// and its PostgreSQL database recreated and migrated (prepareServiceDatabase()).

import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BENCH_DIR, HOST, have, ROOT, runStep } from './common.mjs';
import { get, startServer, stopServer } from './processes.mjs';

export const BUILD_DIR = join(BENCH_DIR, '.build');
export const SERVICE_DIR = join(BUILD_DIR, 'service');
/** The compiled service's entry point, as a server's argv (after node). */
export const SERVICE_ARGV = [join(SERVICE_DIR, 'main.js')];
/** How the service was built and run, for the report's weir row: see buildService(). */
export const SERVICE_BUILD =
  'the reference service compiled as for production: `npm run build` (dist/), examples/service compiled by `tsc` into bench/.build/service/ (its `weir`, `weir/db`, … imports resolved to dist/), run as `node bench/.build/service/main.js`';
/** `npm start`'s command after node: `node scripts/start.mjs`, run in the repo root. */
export const NPM_START_ARGV = [join(ROOT, 'scripts', 'start.mjs')];
/** How a server started as `npm start` was run, for the reports: see prepareNpmStart(). */
export const NPM_START_BUILD =
  'the reference service started as `npm start` starts it: `node scripts/start.mjs` in the repo root (npm itself left out), which runs weir from dist/ and the service bundled with it once into .build/service/<hash of its sources and dist/>/ (WEIR_BUILD_DIR if set)';
/** Rows of the `world` table; ids are 1…WORLD_SIZE. */
export const WORLD_SIZE = 10_000;

/**
 * Builds weir as a user deploys it: weir itself with `npm run build` (tsc -p tsconfig.build.json → dist/),
 * and the reference service (examples/service) compiled by tsc into bench/.build/service/ with the root
 * tsconfig's options (`./app.ts` imports become `./app.js`) but without the `weir-source` condition. Its
 * `import 'weir'` and `'weir/db'` must reach dist/: bench/ is a package of its own (bench/package.json,
 * "weir-bench"), so weir's self-reference does not work from there; bench/.build/node_modules/weir links to
 * the repo root instead, as `npm install` of a local weir would, and Node resolves it to dist/ through the
 * package's exports. The migrations and static files the service finds next to its modules
 * (database.ts's MIGRATIONS_DIR, app.ts's public/) are copied beside the compiled files. Checked here:
 * every weir entry point the compiled service imports (`weir`, `weir/db`, …) resolves to dist/. The
 * runner's name prefixes the log lines; if a step fails, the runner fails.
 */
export function buildService({ name, fail }) {
  try {
    compileService(name);
  } catch (err) {
    fail(err.message);
  }
}

function compileService(name) {
  runStep(name, 'npm', ['run', 'build', '--silent']);
  rmSync(BUILD_DIR, { recursive: true, force: true });
  mkdirSync(join(BUILD_DIR, 'node_modules'), { recursive: true });
  const json = (file, value) => writeFileSync(join(BUILD_DIR, file), `${JSON.stringify(value, null, 2)}\n`);
  json('package.json', { private: true, type: 'module' });
  json('tsconfig.json', {
    extends: '../../tsconfig.json',
    compilerOptions: {
      noEmit: false,
      rootDir: '../../examples/service',
      outDir: 'service',
      customConditions: [],
      declaration: false,
    },
    include: ['../../examples/service'],
  });
  symlinkSync(
    relative(join(BUILD_DIR, 'node_modules'), ROOT),
    join(BUILD_DIR, 'node_modules', 'weir'),
    'dir',
  );
  runStep(name, join(ROOT, 'node_modules', '.bin', 'tsc'), ['-p', join(BUILD_DIR, 'tsconfig.json')]);
  for (const dir of ['migrations', 'public'])
    cpSync(join(ROOT, 'examples', 'service', dir), join(SERVICE_DIR, dir), { recursive: true });
  // Every weir entry point the compiled service imports (`weir`, `weir/db`, …) must reach dist/, by Node's
  // own ESM resolver from a module in the service's folder, with no --conditions, as the server runs.
  const specifiers = new Set(['weir', 'weir/db']);
  for (const file of readdirSync(SERVICE_DIR).filter((f) => f.endsWith('.js')))
    for (const m of readFileSync(join(SERVICE_DIR, file), 'utf8').matchAll(
      /from\s*['"](weir(?:\/[\w-]+)*)['"]/g,
    ))
      specifiers.add(m[1]);
  const resolved = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `console.log(JSON.stringify(${JSON.stringify([...specifiers])}.map((s) => import.meta.resolve(s))))`,
    ],
    { cwd: SERVICE_DIR, encoding: 'utf8' },
  );
  let found;
  try {
    found = JSON.parse(resolved.stdout).map((url) => relative(ROOT, fileURLToPath(url)));
  } catch {
    throw new Error(
      `cannot resolve ${[...specifiers].join(', ')} from ${relative(ROOT, SERVICE_DIR)}:\n${resolved.stderr}`,
    );
  }
  const shown = [...specifiers].map((s, i) => `${s} → ${found[i]}`).join(', ');
  if (found.some((file) => !file.startsWith(`dist${sep}`)))
    throw new Error(`from ${relative(ROOT, SERVICE_DIR)}, not every weir import resolves to dist/: ${shown}`);
  console.log(`${name}: the compiled service imports weir from dist/: ${shown}`);
}

/**
 * Readies what `npm start` runs, as scripts/start.mjs would on its first start: weir's dist/ (rebuilt with
 * `npm run build` when src/ is newer) and the service's build (scripts/service-build.mjs), so that no
 * measured start builds or compiles anything. The runner's name prefixes the log lines; if a step fails,
 * the runner fails. Resolves to the compiled service's main.js.
 */
export async function prepareNpmStart({ name, fail }) {
  const { ensureServiceBuild } = await import(pathToFileURL(join(ROOT, 'scripts', 'service-build.mjs')).href);
  try {
    const main = await ensureServiceBuild({
      root: ROOT,
      buildWeir: () => runStep(name, 'npm', ['run', 'build', '--silent']),
    });
    console.log(`${name}: npm start runs ${relative(ROOT, main)}`);
    return main;
  } catch (err) {
    fail(err.message);
  }
}

/**
 * Starts a TechEmpower server (`argv`: its script and arguments, run by this node after `extraArgs`, in
 * `cwd`, bench/ unless given), pinned with `pin.server`, on 127.0.0.1:`port` with NODE_ENV=production and
 * `env` added; ready once GET /db answers 200. `label` names it in errors. Resolves as startServer() does.
 */
export function startTfbServer({ label, argv, pin, port, env, extraArgs = [], cwd }) {
  return startServer({
    cwd,
    name: `${label} server`,
    argv: [...pin.server, process.execPath, ...extraArgs, ...argv],
    env: { PORT: String(port), HOST, NODE_ENV: 'production', ...env },
    port,
    probe: async () => {
      const res = await get(port, '/db', 5000);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    },
    log: [],
  });
}

/**
 * The checks of a server's answers before it is measured (`label` names it): `expect(path, inspect)` GETs
 * `path` from 127.0.0.1:`port` and keeps what `inspect(res)` finds wrong with the answer (a list, maybe
 * empty, or a promise of one) or the error it throws, with the start of the body; `add(problem)` keeps one
 * found otherwise; `done()` then throws naming every problem kept, if there is any.
 */
export function answerChecks(label, port) {
  const problems = [];
  return {
    async expect(path, inspect) {
      const res = await get(port, path, 10_000);
      try {
        const found = await inspect(res);
        if (found.length > 0) problems.push(`${path}: ${found.join(', ')}`);
      } catch (err) {
        problems.push(`${path}: ${err.message} (body ${JSON.stringify(res.body.slice(0, 200))})`);
      }
    },
    add(problem) {
      problems.push(problem);
    },
    done() {
      if (problems.length > 0) throw new Error(`${label} fails the checks:\n  ${problems.join('\n  ')}`);
    },
  };
}

/** What is wrong with a response: status, content type, the TechEmpower headers, Content-Length. */
export function headerProblems(res, type) {
  const problems = [];
  if (res.status !== 200) problems.push(`status ${res.status}`);
  if (!type.test(res.headers['content-type'] ?? ''))
    problems.push(`content-type ${res.headers['content-type']}`);
  for (const header of ['server', 'date', 'content-length'])
    if (!res.headers[header]) problems.push(`no ${header} header`);
  if (Number(res.headers['content-length']) !== Buffer.byteLength(res.body))
    problems.push(`content-length ${res.headers['content-length']} for ${Buffer.byteLength(res.body)} bytes`);
  return problems;
}

/** Whether `w` is a World row: exactly { id, randomNumber }, both integers in 1…WORLD_SIZE. */
export const isWorld = (w) =>
  w !== null &&
  typeof w === 'object' &&
  Object.keys(w).sort().join() === 'id,randomNumber' &&
  Number.isInteger(w.id) &&
  w.id >= 1 &&
  w.id <= WORLD_SIZE &&
  Number.isInteger(w.randomNumber) &&
  w.randomNumber >= 1 &&
  w.randomNumber <= WORLD_SIZE;

/**
 * What is wrong with the World rows `worlds` against the table of the PostgreSQL database at `url`: the
 * ids whose randomNumber is not the table's (an id drawn twice: its last value).
 */
export async function worldsNotInTable(url, worlds) {
  const ids = worlds.map((w) => w.id);
  const { rows } = await pgQuery(url, 'SELECT id, randomnumber FROM world WHERE id = ANY($1)', [ids]);
  const table = new Map(rows.map((r) => [r.id, r.randomnumber]));
  const last = new Map(worlds.map((w) => [w.id, w.randomNumber]));
  return [...last]
    .filter(([id, n]) => table.get(id) !== n)
    .map(([id, n]) => `id ${id}: ${n}, table ${table.get(id)}`);
}

/**
 * An inspection for answerChecks().expect() of a JSON array of `count` World rows: the TechEmpower
 * headers, the array, its length, each row a World, then (rows that are) what `inTable(rows)` finds
 * wrong; the first five problems.
 */
export const worldsAnswer = (count, inTable) => async (res) => {
  const found = headerProblems(res, /^application\/json/);
  const body = JSON.parse(res.body);
  if (!Array.isArray(body)) return [...found, 'not an array'];
  if (body.length !== count) found.push(`${body.length} rows, not ${count}`);
  if (!body.every(isWorld)) found.push(`a row is not { id, randomNumber } within 1…${WORLD_SIZE}`);
  else found.push(...(await inTable(body)));
  return found.slice(0, 5);
};

/** One query on a fresh connection to PostgreSQL at `url` (pg, from bench/node_modules, loaded on first use). */
export async function pgQuery(url, text, values) {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/**
 * Before a run: checks that wrk and taskset are there, drops and recreates the runner's database (--pg,
 * --database), and lets the service create and seed it with its migrations: `start()` starts a server of
 * it, stopped as soon as it answers. Checks the rows seeded; resolves to PostgreSQL's version.
 */
export async function prepareServiceDatabase({ name, fail, opts }, start) {
  if (!have('wrk')) fail('wrk is required (apt-get install wrk)');
  if (!have('taskset')) fail('taskset (util-linux) is required');
  const admin = `${opts.pg}/postgres`;
  const version = (await pgQuery(admin, 'SHOW server_version')).rows[0].server_version;
  await pgQuery(admin, `DROP DATABASE IF EXISTS ${opts.database} WITH (FORCE)`);
  await pgQuery(admin, `CREATE DATABASE ${opts.database}`);
  console.log(
    `${name}: recreated ${opts.database} on PostgreSQL ${version}; migrating it with the weir service`,
  );
  await stopServer(await start());
  const { rows } = await pgQuery(
    `${opts.pg}/${opts.database}`,
    'SELECT (SELECT count(*) FROM world) AS w, (SELECT count(*) FROM fortune) AS f',
  );
  const [worlds, fortunes] = [Number(rows[0].w), Number(rows[0].f)];
  if (worlds !== WORLD_SIZE || fortunes !== 12)
    fail(`after migration: ${worlds} world rows and ${fortunes} fortunes, not ${WORLD_SIZE} and 12`);
  return version;
}
