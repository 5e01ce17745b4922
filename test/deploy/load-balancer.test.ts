/**
 * deploy/nginx.conf and deploy/haproxy.cfg, run as they are (only their ports and file paths rewritten)
 * on loopback in front of two reference-service instances started as `npm start` starts them, sharing
 * PostgreSQL, Redis and RabbitMQ: requests spread over both, a value cached or a job enqueued through one
 * is seen through the other, WebSockets and uploads pass through, and `kill -9` of one instance under load
 * fails no GET through either balancer. nginx and HAProxy are Debian packages that .ci/run installs; this file installs nothing.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { formBody, PNG, post } from '../helpers/multipart.ts';
import { spawnNode, type TsProcess } from '../helpers/process.ts';
import {
  AMQP_URL,
  amqpSkip,
  freshPostgresDatabase,
  postgresSkip,
  REDIS_URL,
  redisSkip,
  skipUnless,
} from '../helpers/services.ts';
import { within } from '../helpers/time.ts';
import { type Client, open } from '../helpers/ws.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

function binarySkip(name: string, versionFlag: string): Promise<string | false> {
  return skipUnless(`${name} (Debian package ${name}; .ci/run installs it)`, async () => {
    const run = spawnSync(name, [versionFlag], { stdio: 'ignore', timeout: 5000 });
    if (run.error !== undefined) throw run.error;
    if (run.status !== 0) throw new Error(`${name} ${versionFlag} exited with ${run.status}`);
  });
}

const skip =
  (await postgresSkip()) ||
  (await redisSkip()) ||
  (await amqpSkip()) ||
  (await binarySkip('nginx', '-v')) ||
  (await binarySkip('haproxy', '-v'));

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Replaces every `from` in `text`, failing when there is none: the deploy file changed under the test. */
function swap(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `expected ${JSON.stringify(from)} in the deploy configuration`);
  return text.split(from).join(to);
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function get(
  port: number,
  path: string,
  options: { agent?: Agent; headers?: Record<string, string>; method?: string; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: options.agent ?? false,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer on ${path} in 10 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Waits up to `ms` for `probe` to return something other than undefined. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A process of ours, stopped by its PID only. */
function stop(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill(signal);
  });
}

describe('deploy/: nginx and HAProxy in front of two instances', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'weir-deploy-'));
  const buildDir = mkdtempSync(join(tmpdir(), 'weir-deploy-build-'));
  let database: { url: string; drop: () => Promise<void> } | undefined;
  const instances: Record<'a' | 'b', { service: TsProcess; port: number } | undefined> = {
    a: undefined,
    b: undefined,
  };
  let nginx: ChildProcess | undefined;
  let haproxy: ChildProcess | undefined;
  let nginxPort = 0;
  let haproxyPort = 0;

  async function startInstance(id: 'a' | 'b'): Promise<void> {
    const service = spawnNode([join(root, 'scripts/start.mjs')], {
      WEIR_BUILD_DIR: buildDir,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      INSTANCE_ID: id,
      TRUST_PROXY: '127.0.0.1/32',
      DATABASE_URL: (database as { url: string }).url,
      CACHE_URL: REDIS_URL.replace(/^redis:/, 'tiered+redis:'),
      QUEUE_URL: AMQP_URL,
      UPLOAD_DIR: join(dir, `uploads-${id}`),
    });
    instances[id] = { service, port: 0 };
    const [, port] = await service.waitFor(/"url":"http:\/\/127\.0\.0\.1:(\d+)"/);
    instances[id] = { service, port: Number(port) };
  }

  function spawnLogged(command: string, args: string[], log: string): ChildProcess {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      writeFileSync(join(dir, log), text);
    });
    return child;
  }

  before(async () => {
    database = await freshPostgresDatabase('deploy');
    // One after the other: the first start builds dist/ and the service when they are stale, and creates
    // and seeds the schema.
    await within(startInstance('a'), 120_000, 'instance a to listen');
    await within(startInstance('b'), 60_000, 'instance b to listen');
    const a = (instances.a as { port: number }).port;
    const b = (instances.b as { port: number }).port;
    // As root, nginx hands its temporary files to another user: let it into the folder.
    chmodSync(dir, 0o755);

    nginxPort = await freePort();
    let conf = readFileSync(join(root, 'deploy/nginx.conf'), 'utf8');
    conf = swap(conf, 'pid /run/nginx-weir.pid;', `pid ${dir}/nginx.pid;`);
    conf = swap(conf, '/var/log/nginx/', `${dir}/`);
    conf = swap(conf, '/var/tmp/nginx-weir-', `${dir}/nginx-`);
    conf = swap(conf, 'worker_processes auto;', 'worker_processes 1;');
    conf = swap(conf, 'server 127.0.0.1:8081 ', `server 127.0.0.1:${a} `);
    conf = swap(conf, 'server 127.0.0.1:8082 ', `server 127.0.0.1:${b} `);
    conf = swap(conf, 'listen 8080;', `listen 127.0.0.1:${nginxPort};`);
    writeFileSync(join(dir, 'nginx.conf'), conf);
    // In the foreground and in one process, so that killing its PID stops all of it.
    nginx = spawnLogged(
      'nginx',
      [
        '-p',
        dir,
        '-e',
        join(dir, 'error.log'),
        '-c',
        join(dir, 'nginx.conf'),
        '-g',
        'daemon off; master_process off;',
      ],
      'nginx.stderr',
    );

    haproxyPort = await freePort();
    let cfg = readFileSync(join(root, 'deploy/haproxy.cfg'), 'utf8');
    cfg = swap(cfg, 'pidfile /run/haproxy-weir.pid', `pidfile ${dir}/haproxy.pid`);
    // Every request in the log (the file logs warnings only), to see the retries below.
    cfg = swap(cfg, 'log stderr format short local0 warning', 'log stderr format short local0 info');
    cfg = swap(cfg, 'bind 127.0.0.1:8080', `bind 127.0.0.1:${haproxyPort}`);
    cfg = swap(cfg, 'server weir1 127.0.0.1:8081', `server weir1 127.0.0.1:${a}`);
    cfg = swap(cfg, 'server weir2 127.0.0.1:8082', `server weir2 127.0.0.1:${b}`);
    writeFileSync(join(dir, 'haproxy.cfg'), cfg);
    haproxy = spawnLogged('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')], 'haproxy.stderr');

    for (const [name, port] of [
      ['nginx', nginxPort],
      ['HAProxy', haproxyPort],
    ] as const) {
      await until(`${name} to answer`, 15_000, async () =>
        (await get(port, '/healthz')).status === 200 ? true : undefined,
      );
    }
  });

  after(async () => {
    await Promise.all([
      stop(nginx),
      stop(haproxy),
      stop(instances.a?.service.child),
      stop(instances.b?.service.child),
    ]);
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(buildDir, { recursive: true, force: true });
  });

  /** The instances that answered `count` requests to `path` through `port`. */
  async function served(port: number, count: number, path = '/json'): Promise<Set<string>> {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    try {
      const replies = await Promise.all(Array.from({ length: count }, () => get(port, path, { agent })));
      for (const reply of replies) assert.equal(reply.status, 200, reply.body);
      return new Set(replies.map((r) => String(r.headers['x-instance-id'])));
    } finally {
      agent.destroy();
    }
  }

  it('spreads requests over both instances, through nginx and through HAProxy', async () => {
    assert.deepEqual([...(await served(nginxPort, 20))].sort(), ['a', 'b']);
    // HAProxy's health checks pass within a second or two; until then it may favour one instance.
    await until('HAProxy to use both instances', 15_000, async () =>
      (await served(haproxyPort, 20)).size === 2 ? true : undefined,
    );
  });

  it('sets X-Request-Id (keeping the client’s) and forwards /readyz', async () => {
    for (const port of [nginxPort, haproxyPort]) {
      const fresh = await get(port, '/readyz');
      assert.equal(fresh.status, 200, fresh.body);
      assert.equal(JSON.parse(fresh.body).status, 'ready');
      assert.match(String(fresh.headers['x-request-id']), /^\w{8,}$/);
      const kept = await get(port, '/json', { headers: { 'x-request-id': 'req-from-client-1' } });
      assert.equal(kept.headers['x-request-id'], 'req-from-client-1');
    }
    // The instances keep the id of the balancer they trust (TRUST_PROXY's addresses): weir echoes it
    // itself, so its logs and jobs carry the balancer's id.
    const direct = await get((instances.a as { port: number }).port, '/json', {
      headers: { 'x-request-id': 'from-the-balancer-2' },
    });
    assert.equal(direct.headers['x-request-id'], 'from-the-balancer-2');
  });

  it('a value cached through one instance is read through the other (Redis)', async () => {
    const a = instances.a as { port: number };
    const b = instances.b as { port: number };
    const first = await get(a.port, '/cached');
    assert.equal(first.status, 200, first.body);
    const second = await get(b.port, '/cached');
    assert.equal(second.status, 200, second.body);
    assert.equal(JSON.parse(second.body).computedAt, JSON.parse(first.body).computedAt);
  });

  it('a job enqueued through one instance is seen, and run, through the other (RabbitMQ, PostgreSQL)', async () => {
    const a = instances.a as { port: number };
    const b = instances.b as { port: number };
    const posted = await get(a.port, '/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'ada@example.com' }),
    });
    assert.equal(posted.status, 202, posted.body);
    const location = String(posted.headers.location);
    const seen = await get(b.port, location);
    assert.equal(seen.status, 200, seen.body);
    await until('the job to complete', 20_000, async () => {
      const reply = await get(b.port, location);
      return JSON.parse(reply.body).state === 'completed' ? true : undefined;
    });
  });

  it('passes WebSocket upgrades through, the Origin check seeing the Host the browser used', async () => {
    for (const [name, port] of [
      ['nginx', nginxPort],
      ['HAProxy', haproxyPort],
    ] as const) {
      const client: Client = await open(`ws://127.0.0.1:${port}/ws`, { origin: `http://127.0.0.1:${port}` });
      try {
        client.ws.send(`hello through ${name}`);
        await client.until(1);
        assert.deepEqual(client.messages, [`hello through ${name}`]);
      } finally {
        client.ws.close();
      }
      // A page from another site may not open one: weir refuses it, the balancer passes the 403 on.
      const foreign = await open(`ws://127.0.0.1:${port}/ws`, { origin: 'https://evil.example' }).then(
        (c) => {
          c.ws.close();
          return 'opened';
        },
        (err: { status?: number }) => err.status,
      );
      assert.equal(foreign, 403, `a foreign Origin through ${name}`);
    }
  });

  it('streams an upload of several MiB through to weir, which stores it', async () => {
    // Past nginx's default 1 MiB body limit, within the reference service's 10 MiB a file.
    const image = Buffer.concat([PNG, Buffer.alloc(3 * 1024 * 1024, 7)]);
    for (const [name, port] of [
      ['nginx', nginxPort],
      ['HAProxy', haproxyPort],
    ] as const) {
      const res = await post(
        port,
        '/upload',
        formBody([{ name: 'photo', filename: 'big.png', type: 'image/png', body: image }]),
      );
      assert.equal(res.status, 201, `through ${name}: ${res.text}`);
      const [file] = res.json.files as { size: number; type: string }[];
      assert.deepEqual([file?.size, file?.type], [image.length, 'image/png'], `through ${name}`);
    }
  });

  it('kill -9 of one instance under load: every GET through nginx and HAProxy still succeeds', async () => {
    const victim = instances.a as { service: TsProcess };
    const total = 600;
    let sent = 0;
    let killedAt = -1;
    const loop = async (port: number) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 4 });
      const failures: string[] = [];
      const after = new Set<string>();
      let done = 0;
      let issued = 0;
      const deadline = Date.now() + 30_000;
      const worker = async () => {
        while (issued < total && Date.now() < deadline) {
          issued++;
          sent++;
          if (sent === 200 && killedAt < 0) {
            killedAt = sent;
            victim.service.child.kill('SIGKILL');
          }
          const killed = killedAt >= 0;
          try {
            const reply = await get(port, '/json', { agent });
            if (reply.status === 200) {
              done++;
              if (killed) after.add(String(reply.headers['x-instance-id']));
            } else failures.push(`${reply.status} ${reply.body.slice(0, 120)}`);
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      };
      try {
        await Promise.all([worker(), worker(), worker(), worker()]);
      } finally {
        agent.destroy();
      }
      return { done, failures, after };
    };
    const [viaNginx, viaHaproxy] = await Promise.all([loop(nginxPort), loop(haproxyPort)]);
    assert.ok(killedAt > 0, 'the instance was killed during the load');
    assert.equal(await victim.service.exited(), null);
    assert.deepEqual(viaNginx.failures, [], 'GETs through nginx');
    assert.deepEqual(viaHaproxy.failures, [], 'GETs through HAProxy');
    assert.equal(viaNginx.done, total);
    assert.equal(viaHaproxy.done, total);
    assert.ok(viaNginx.after.has('b') && viaHaproxy.after.has('b'), 'the survivor took the load');
    // And the retries did happen: requests that met the dead instance were answered by the other one.
    const nginxLog = readFileSync(join(dir, 'weir-access.log'), 'utf8');
    assert.match(nginxLog, /"GET \/json HTTP\/1\.1" 200 .* upstream=\S+, \S+ upstream_status=\d+, 200/);
    await until('HAProxy to log a request retried on the other instance', 5000, async () =>
      /\/\+\d+ \d+\/\d+ "GET \/json/.test(readFileSync(join(dir, 'haproxy.stderr'), 'utf8'))
        ? true
        : undefined,
    );
  });
});
