import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ServerHandle } from 'weir';
import { createServiceApp } from '../../examples/service/app.ts';
import { openServiceDatabase } from '../../examples/service/database.ts';
import { raw, request, serve } from '../helpers/http.ts';
import { spawnNode } from '../helpers/process.ts';

let handle: ServerHandle;
before(async () => {
  handle = await serve(createServiceApp({ logger: false, db: await openServiceDatabase('sqlite::memory:') }));
});
after(() => handle.close());

const DATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

describe('reference service over a real socket', () => {
  it('GET / says hello', async () => {
    const res = await request(handle, { path: '/' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'Hello, World');
  });

  it('GET /hello/:name greets by name', async () => {
    assert.equal((await request(handle, { path: '/hello/Ada%20L' })).body, 'Hello, Ada L');
  });

  it('GET /plaintext follows the TechEmpower rules', async () => {
    const res = await request(handle, { path: '/plaintext' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'Hello, World!');
    assert.match(String(res.headers['content-type']), /^text\/plain(; ?charset=(UTF|utf)-8)?$/);
    assert.equal(res.headers['content-length'], '13');
    assert.equal(res.headers.server, 'weir');
    assert.match(String(res.headers.date), DATE);
  });

  it('GET /json follows the TechEmpower rules', async () => {
    const res = await request(handle, { path: '/json' });
    assert.equal(res.status, 200);
    assert.equal(res.body, '{"message":"Hello, World!"}');
    assert.match(String(res.headers['content-type']), /^application\/json(; ?charset=(UTF|utf)-8)?$/);
    assert.equal(res.headers['content-length'], '27');
    assert.equal(res.headers.server, 'weir');
    assert.match(String(res.headers.date), DATE);
  });

  it('answers pipelined keep-alive requests in order on one connection', async () => {
    const response = await raw(
      handle.port,
      'GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\nGET /json HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    const bodies = response
      .split(/\r\n\r\n/)
      .slice(1, 4)
      .map((part) => part.split('HTTP/1.1')[0]);
    assert.deepEqual(bodies, ['Hello, World!', '{"message":"Hello, World!"}', 'Hello, World']);
  });

  it('GET /healthz reports ok', async () => {
    const res = await request(handle, { path: '/healthz' });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body).status, 'ok');
  });

  it('GET /readyz reports ready with the database checked, and sends no instance header unasked', async () => {
    const res = await request(handle, { path: '/readyz' });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { status: 'ready', draining: false, checks: { database: 'ok' } });
    assert.equal(res.headers['x-instance-id'], undefined);
  });

  it('GET /readyz answers 503 naming the database when it does not answer; /healthz stays 200', async () => {
    const db = await openServiceDatabase('sqlite::memory:');
    const app = createServiceApp({ logger: false, db, instanceId: 'web-1' });
    const down = await serve(app);
    try {
      await db.close();
      const res = await request(down, { path: '/readyz' });
      assert.equal(res.status, 503);
      assert.deepEqual(JSON.parse(res.body), {
        status: 'not ready',
        draining: false,
        checks: { database: 'failed' },
      });
      assert.equal(res.headers['x-instance-id'], 'web-1');
      assert.equal((await request(down, { path: '/healthz' })).status, 200);
    } finally {
      await down.close();
    }
  });

  it('refuses an instanceId that could not be a header value', async () => {
    const db = await openServiceDatabase('sqlite::memory:');
    try {
      assert.throws(() => createServiceApp({ logger: false, db, instanceId: 'a\r\nb' }), {
        code: 'WEIR_ERR_INVALID_OPTION',
      });
    } finally {
      await db.close();
    }
  });

  it('POST /echo answers the JSON it was sent, and 400/415 for bad bodies', async () => {
    const body = JSON.stringify({ nested: { list: [1, 'two', null] }, ok: true });
    const res = await request(handle, {
      method: 'POST',
      path: '/echo',
      headers: { 'content-type': 'application/json' },
      body,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), JSON.parse(body));
    const bad = await request(handle, {
      method: 'POST',
      path: '/echo',
      headers: { 'content-type': 'application/json' },
      body: '{nope',
    });
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).error.code, 'WEIR_ERR_BODY_INVALID_JSON');
    const wrongType = await request(handle, { method: 'POST', path: '/echo', body: 'x' });
    assert.equal(wrongType.status, 415);
  });

  it('GET /static/* serves the example folder with caching headers', async () => {
    const res = await request(handle, { path: '/static/hello.txt' });
    assert.equal(res.status, 200);
    assert.equal(res.body, 'Hello from a static file.\n');
    assert.ok(res.headers.etag);
    const css = await request(handle, { path: '/static/assets/app.3f9a2b1c.css' });
    assert.equal(css.headers['cache-control'], 'public, max-age=31536000, immutable');
    const index = await request(handle, { path: '/static/' });
    assert.match(index.body, /<h1>weir<\/h1>/);
    const again = await request(handle, {
      path: '/static/hello.txt',
      headers: { 'if-none-match': String(res.headers.etag) },
    });
    assert.equal(again.status, 304);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const res = await request(handle, { path: '/nowhere' });
    assert.equal(res.status, 404);
    assert.equal(JSON.parse(res.body).error.code, 'WEIR_ERR_NOT_FOUND');
  });
});

/**
 * Runs `fn` on a scratch checkout (src/, dist/ with an index newer than src/, examples/service/) whose
 * builds go to a scratch WEIR_BUILD_DIR; both are removed after, and WEIR_BUILD_DIR is restored.
 */
async function inScratchCheckout(fn: (root: string) => Promise<void>): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'weir-root-'));
  const builds = mkdtempSync(join(tmpdir(), 'weir-build-'));
  const previous = process.env.WEIR_BUILD_DIR;
  process.env.WEIR_BUILD_DIR = builds;
  try {
    for (const dir of ['src', 'dist', 'examples/service']) mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, 'src', 'index.ts'), '');
    await fn(root);
  } finally {
    if (previous === undefined) delete process.env.WEIR_BUILD_DIR;
    else process.env.WEIR_BUILD_DIR = previous;
    rmSync(root, { recursive: true, force: true });
    rmSync(builds, { recursive: true, force: true });
  }
}

describe('npm start (scripts/start.mjs: examples/service compiled, on dist/)', () => {
  // Builds of its own, so that these starts neither use nor disturb the checkout's .build/.
  const buildDir = mkdtempSync(join(tmpdir(), 'weir-build-'));
  after(() => rmSync(buildDir, { recursive: true, force: true }));
  const START = fileURLToPath(new URL('../../scripts/start.mjs', import.meta.url));
  const start = (env: Record<string, string>) => spawnNode([START], { WEIR_BUILD_DIR: buildDir, ...env });

  it('serves on PORT, and exits 0 on SIGTERM', async () => {
    const service = start({
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), 'weir-start-')), 'weir.db')}`,
    });
    try {
      const [, url] = await service.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/);
      // One startup line names the backends in use.
      const [line] = await service.waitFor(/.*"msg":"listening".*/);
      assert.match(
        line!,
        /"database":"sqlite:[^"]*weir\.db","cache":"memory:","queue":"sqlite:[^"]*queue\.db"/,
      );
      const port = Number(new URL(url!).port);
      const res = await request({ port }, { path: '/json' });
      assert.equal(res.body, '{"message":"Hello, World!"}');
      const world = JSON.parse((await request({ port }, { path: '/db' })).body);
      assert.ok(world.id >= 1 && world.id <= 10000, 'the database was created and seeded at start');
      service.child.kill('SIGTERM');
      assert.equal(await service.exited(), 0);
    } finally {
      if (service.child.exitCode === null) service.child.kill('SIGKILL');
    }
  });

  /** Starts the service with `env`, expecting it to fail: its exit code and stderr. */
  async function failedStart(env: Record<string, string>): Promise<{ code: unknown; stderr: string }> {
    const child = spawn(process.execPath, [START], {
      env: {
        ...process.env,
        WEIR_BUILD_DIR: buildDir,
        DATABASE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), 'weir-start-')), 'weir.db')}`,
        QUEUE_URL: `sqlite:${join(mkdtempSync(join(tmpdir(), 'weir-start-')), 'queue.db')}`,
        ...env,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise((resolve) => child.on('exit', resolve));
    return { code, stderr };
  }

  it('fails in one line with the code and a hint when PORT is not a port, or the port is taken', async () => {
    const bad = await failedStart({ PORT: 'abc' });
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
    assert.match(
      bad.stderr,
      /^weir: cannot start: listen port must be an integer 0…65535, received NaN \(number\) \[WEIR_ERR_INVALID_OPTION\] \(check PORT/,
    );
    // A malformed METRICS_PORT, in one process and under a primary: the same one line.
    const envs: Record<string, string>[] = [
      { METRICS_PORT: 'abc' },
      { METRICS_PORT: 'abc', WEB_CONCURRENCY: '2' },
    ];
    for (const env of envs) {
      const metricsPort = await failedStart(env);
      assert.equal(metricsPort.code, 1, JSON.stringify(env));
      assert.equal(metricsPort.stderr.trim().split('\n').length, 1, metricsPort.stderr);
      assert.match(
        metricsPort.stderr,
        /^weir: cannot start: metrics.port must be an integer 0…65535, received NaN/,
      );
    }
    // An unknown WEIR_SCHEDULING under a primary: one line, the value escaped (it used to mean rr silently).
    const scheduling = await failedStart({ WEIR_SCHEDULING: 'roundrobin\n\u001b[2J', WEB_CONCURRENCY: '2' });
    assert.equal(scheduling.code, 1);
    assert.equal(scheduling.stderr.trim().split('\n').length, 1, scheduling.stderr);
    assert.match(
      scheduling.stderr,
      /^weir: cannot start: scheduling must be rr, none or reuseport, received "roundrobin\\n\\u001b\[2J"/,
    );
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const port = (holder.address() as { port: number }).port;
      const taken = await failedStart({ PORT: String(port) });
      assert.equal(taken.code, 1);
      assert.equal(taken.stderr.trim().split('\n').length, 1, taken.stderr);
      assert.match(
        taken.stderr,
        /^weir: cannot start: Cannot listen on 127\.0\.0\.1:\d+: the address is already in use \[WEIR_ERR_LISTEN\] \(another process/,
      );
    } finally {
      holder.close();
    }
  });

  it('exits 1 with one line naming the URL, without its password, when the database is unreachable', async () => {
    const { code, stderr } = await failedStart({
      PORT: '0',
      DATABASE_URL: 'postgres://app:sekret@127.0.0.1:1/nowhere',
    });
    assert.equal(code, 1);
    const lines = stderr.trim().split('\n');
    assert.equal(lines.length, 1, stderr);
    assert.match(
      lines[0]!,
      /^weir: cannot start: Database postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\/nowhere is unavailable: connect ECONNREFUSED/,
    );
    assert.doesNotMatch(stderr, /sekret/);
  });

  it('npm start itself: a SIGTERM to npm reaches the service, which drains and exits; npm exits 0', {
    timeout: 60_000,
  }, async () => {
    const data = mkdtempSync(join(tmpdir(), 'weir-start-'));
    const npm = spawn('npm', ['start', '--silent'], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      env: {
        ...process.env,
        WEIR_BUILD_DIR: buildDir,
        PORT: '0',
        LOG_LEVEL: 'info',
        DATABASE_URL: `sqlite:${join(data, 'weir.db')}`,
        QUEUE_URL: `sqlite:${join(data, 'queue.db')}`,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    npm.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => npm.on('exit', resolve));
    try {
      for (let i = 0; i < 600 && !/"msg":"listening"/.test(out); i++)
        await new Promise((r) => setTimeout(r, 50));
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1];
      assert.ok(url, `no listening line: ${out}`);
      const port = Number(new URL(url).port);
      assert.equal((await request({ port }, { path: '/json' })).status, 200);
      npm.kill('SIGTERM');
      assert.equal(await exited, 0);
      assert.match(out, /"msg":"stopping: draining in-flight requests"/);
      assert.match(out, /"msg":"stopped"/);
      // Nothing is left listening on the port.
      await assert.rejects(request({ port }, { path: '/json' }));
    } finally {
      if (npm.exitCode === null) npm.kill('SIGKILL');
      // A service that outlived npm (the failure this test is for) is stopped by its own pid.
      const pid = Number(/"pid":(\d+)/.exec(out)?.[1]);
      if (pid > 0 && pid !== npm.pid) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      npm.stdout.destroy();
    }
  });

  it('compiles the service once: starts racing on new sources share one build, later starts reuse it', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'weir-build-'));
    try {
      const data = mkdtempSync(join(tmpdir(), 'weir-start-'));
      const run = async (names: string[]) => {
        const services = names.map((name) =>
          spawnNode([START], {
            WEIR_BUILD_DIR: fresh,
            PORT: '0',
            LOG_LEVEL: 'info',
            DATABASE_URL: `sqlite:${join(data, `${name}.db`)}`,
            QUEUE_URL: `sqlite:${join(data, `${name}-queue.db`)}`,
          }),
        );
        for (const service of services) {
          const [, url] = await service.waitFor(/"url":"(http:\/\/127\.0\.0\.1:\d+)"/);
          const res = await request({ port: Number(new URL(url!).port) }, { path: '/json' });
          assert.equal(res.body, '{"message":"Hello, World!"}');
          // prom-client (and @opentelemetry/api, which its process metrics require) from the bundle.
          const metrics = await request({ port: Number(new URL(url!).port) }, { path: '/metrics' });
          assert.equal(metrics.status, 200);
          assert.match(metrics.body, /^process_cpu_user_seconds_total \d/m);
          service.child.kill('SIGTERM');
          assert.equal(await service.exited(), 0);
        }
      };
      const builds = () =>
        readdirSync(join(fresh, 'service')).filter((f) => !/^(node_modules|package\.json)$/.test(f));
      await run(['a', 'b']);
      assert.equal(builds().length, 1, `one build, no staging left: ${builds().join(', ')}`);
      const build = join(fresh, 'service', builds()[0]!);
      const files = readdirSync(build);
      assert.ok(
        files.includes('main.js') && files.includes('migrations') && !files.some((f) => f.endsWith('.ts')),
      );
      // One bundle: the service's files and weir's dist/ are in main.js and a few chunks, not a file each.
      const scripts = files.filter((f) => f.endsWith('.js'));
      assert.ok(!files.includes('app.js') && scripts.length < 20, `bundled: ${scripts.join(', ')}`);
      // The packages every start loads are in the bundle too, not imports read from node_modules.
      for (const script of scripts) {
        const text = readFileSync(join(build, script), 'utf8');
        const imported = /(?:from |import\(|require\()"(pino|sonic-boom|prom-client|valibot|cookie)["/]/.exec(
          text,
        );
        assert.equal(imported?.[0], undefined, `${script} imports a package it should bundle`);
      }
      assert.ok(
        scripts.some((f) => readFileSync(join(build, f), 'utf8').includes('node_modules/prom-client/')),
        'prom-client is bundled',
      );
      const made = statSync(join(build, 'main.js')).mtimeMs;
      await run(['a']);
      assert.deepEqual(builds(), [builds()[0]]);
      assert.equal(statSync(join(build, 'main.js')).mtimeMs, made, 'the second start reused the build');
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });
  it('bundles again after a new install of the packages it holds (npm rewrites node_modules/.package-lock.json)', async () => {
    const { serviceBuild } = await import('../../scripts/service-build.mjs');
    await inScratchCheckout(async (root) => {
      mkdirSync(join(root, 'node_modules'));
      const installed = join(root, 'node_modules', '.package-lock.json');
      writeFileSync(installed, '{ "packages": { "node_modules/pino": { "version": "10.0.0" } } }\n');
      const before = serviceBuild({ root }).main;
      assert.equal(serviceBuild({ root }).main, before, 'the same install, the same build');
      writeFileSync(installed, '{ "packages": { "node_modules/pino": { "version": "10.0.1" } } }\n');
      const later = new Date(Date.now() + 60_000);
      utimesSync(installed, later, later);
      assert.notEqual(serviceBuild({ root }).main, before);
    });
  });
  it('says in one line what to install when esbuild is missing', async () => {
    const { ensureServiceBuild } = await import('../../scripts/service-build.mjs');
    // A checkout with no node_modules, as after `npm ci --omit=dev` without dev dependencies.
    await inScratchCheckout(async (root) => {
      writeFileSync(join(root, 'dist', 'index.js'), '');
      writeFileSync(join(root, 'package.json'), '{ "name": "weir", "type": "module" }\n');
      writeFileSync(join(root, 'examples', 'service', 'main.ts'), 'export {};\n');
      await assert.rejects(
        ensureServiceBuild({ root, buildWeir: () => assert.fail('dist/ is not older than src/') }),
        (err: Error) => {
          assert.equal(
            err.message,
            'esbuild, which bundles the service, is not installed: run `npm ci` (with dev dependencies)',
          );
          return true;
        },
      );
    });
  });

  it('bundles again when the sources or dist/ change; a source that does not compile stops the start, naming its line', async () => {
    const { ensureServiceBuild, serviceBuild } = await import('../../scripts/service-build.mjs');
    // A checkout of its own: a one-file service, a dist/ newer than src/, the real node_modules.
    await inScratchCheckout(async (root) => {
      // weir's code that finds files beside its own reads import.meta.url: in the bundle, still its own.
      writeFileSync(join(root, 'dist', 'index.js'), 'export const where = import.meta.url;\n');
      writeFileSync(
        join(root, 'package.json'),
        '{ "name": "weir", "type": "module", "exports": { ".": "./dist/index.js" } }\n',
      );
      symlinkSync(
        fileURLToPath(new URL('../../node_modules', import.meta.url)),
        join(root, 'node_modules'),
        'dir',
      );
      const main = join(root, 'examples', 'service', 'main.ts');
      writeFileSync(main, "export { where } from 'weir';\nexport const answer: number = 42;\n");
      const buildWeir = () => assert.fail('dist/ is not older than src/');

      // Reached through a symbolic link, as a checkout under a linked folder is.
      const linked = `${root}-link`;
      symlinkSync(root, linked, 'dir');
      const built = await ensureServiceBuild({ root: linked, buildWeir });
      const module = await import(pathToFileURL(built).href);
      assert.equal(module.answer, 42);
      assert.equal(module.where, pathToFileURL(join(realpathSync(root), 'dist', 'index.js')).href);
      rmSync(linked);

      const first = await ensureServiceBuild({ root, buildWeir });
      assert.equal((await import(pathToFileURL(first).href)).answer, 42);
      assert.equal(serviceBuild({ root }).ready, true);
      // A new dist/ (npm run build replaces every file): a new bundle, with the weir it holds.
      const later = new Date(Date.now() + 60_000);
      utimesSync(join(root, 'dist', 'index.js'), later, later);
      assert.notEqual(serviceBuild({ root }).main, first);
      assert.equal(serviceBuild({ root }).ready, false);
      // A changed build script (another way of bundling, from a weir update) is a new build too.
      mkdirSync(join(root, 'scripts'));
      const script = join(root, 'scripts', 'service-build.mjs');
      copyFileSync(fileURLToPath(new URL('../../scripts/service-build.mjs', import.meta.url)), script);
      const copy = await import(pathToFileURL(script).href);
      const current = copy.serviceBuild({ root }).main;
      const edited = new Date(Date.now() + 120_000);
      utimesSync(script, edited, edited);
      assert.notEqual(copy.serviceBuild({ root }).main, current);

      writeFileSync(main, 'export const answer: number = ;\n');
      await assert.rejects(
        ensureServiceBuild({ root, buildWeir }),
        /^Error: the service does not compile: examples\/service\/main\.ts:1: Unexpected ";"/,
      );
    });
  });
});
