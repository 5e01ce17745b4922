/**
 * `--scheduling reuseport`: every worker binds the port itself (SO_REUSEPORT) and the kernel spreads new
 * connections over them. Where this Node cannot (before 22.12, as the machine's Node 20), the primary
 * refuses at start in one line; where it can, workers serve, reload and stop as under round-robin.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { App } from 'weir';
import { REUSEPORT_ENV } from '../../src/cluster/messages.ts';
import { reusePortAvailable } from '../../src/cluster/scheduling.ts';
import { assertCleanReload, get, type Primary, reloadUnderLoad, startServe } from '../helpers/cluster.ts';

function cleanup(primary: Primary): void {
  if (primary.child.exitCode === null) primary.child.kill('SIGKILL');
}

const available = reusePortAvailable();

describe('scheduling reuseport', () => {
  it('is available from Node 22.12 (and 23.1) on Linux and FreeBSD', () => {
    const cases: [string, NodeJS.Platform, boolean][] = [
      ['20.20.2', 'linux', false],
      ['22.11.0', 'linux', false],
      ['22.12.0', 'linux', true],
      ['23.0.0', 'linux', false],
      ['23.1.0', 'linux', true],
      ['24.21.0', 'freebsd', true],
      ['26.1.0', 'linux', true],
      ['24.21.0', 'darwin', false],
      ['24.21.0', 'win32', false],
    ];
    for (const [version, platform, expected] of cases) {
      assert.equal(reusePortAvailable(version, platform), expected, `${version} on ${platform}`);
    }
  });

  it('refuses port 0 in a worker that binds the port itself: each would get a port of its own', async () => {
    const app = new App({ logger: false });
    process.env[REUSEPORT_ENV] = '1';
    try {
      await assert.rejects(app.listen({ port: 0, signals: [] }), {
        code: 'WEIR_ERR_INVALID_OPTION',
        message: /listen port must be a fixed port .*reuseport/,
      });
    } finally {
      delete process.env[REUSEPORT_ENV];
    }
  });

  it('is refused at start, in one line naming this Node, where this Node cannot bind so', {
    skip: available && 'this Node binds with SO_REUSEPORT',
  }, async () => {
    const primary = await startServe(['--workers', '2', '--scheduling', 'reuseport']);
    try {
      assert.equal(await primary.exited, 1);
      assert.match(
        primary.output(),
        new RegExp(
          `^weir: scheduling must be rr or none here: reuseport needs Node 22\\.12 or later .*Node ${process.versions.node.replaceAll('.', '\\.')}`,
        ),
      );
      assert.equal(primary.output().trim().split('\n').length, 1, primary.output());
    } finally {
      cleanup(primary);
    }
  });

  it('serves from every worker, reloads them under keep-alive load with no failed request, and stops', {
    skip: !available && `Node ${process.versions.node} cannot bind with SO_REUSEPORT`,
  }, async () => {
    const primary = await startServe(['--workers', '2', '--scheduling', 'reuseport']);
    try {
      const line = (await primary.waitFor(/weir: serving http.*\n/))[0];
      assert.match(line, /with 2 workers \(primary pid \d+, scheduling reuseport\)/);
      // The warning is a second line, which may reach the pipe in a later chunk than the first.
      const migrate = readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim();
      if (migrate !== '1') await primary.waitFor(/set net\.ipv4\.tcp_migrate_req=1 .*\n/);
      // New connections, one per request: the kernel spreads them by address hash over both sockets.
      const pids = new Set<string>();
      for (let i = 0; i < 64 && pids.size < 2; i++) {
        const res = await get(primary.port, '/');
        if ('body' in res) pids.add(res.body);
      }
      assert.equal(pids.size, 2, 'both workers answer new connections');

      // Kept-alive clients only: a worker that stops resets the new connections queued on its socket
      // unless net.ipv4.tcp_migrate_req is 1 (the README has the count).
      assertCleanReload(await reloadUnderLoad(primary, { reloads: 1, kept: 8, fresh: 0 }));
      primary.child.kill('SIGTERM');
      assert.equal(await primary.exited, 0);
      assert.equal(/tcp_migrate_req=1/.test(primary.output()), migrate !== '1', primary.output());
    } finally {
      cleanup(primary);
    }
  });
});
