/**
 * deploy/'s files, checked by the tools that read them where they are installed: nginx -t, haproxy -c,
 * systemd-analyze verify; and the numbers that must agree with weir's (drain 10 s, keep-alive 65 s).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const deploy = fileURLToPath(new URL('../../deploy/', import.meta.url));
const read = (name: string) => readFileSync(deploy + name, 'utf8');
const required = process.env.WEIR_REQUIRE_SERVICES === '1';

/** Runs `command`; a missing binary skips (fails when required), a non-zero exit fails with its output. */
function check(t: { skip: (reason: string) => void }, command: string, args: string[]): void {
  const run = spawnSync(command, args, { encoding: 'utf8', timeout: 20_000 });
  if ((run.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    if (required) assert.fail(`WEIR_REQUIRE_SERVICES=1 but ${command} is not installed`);
    t.skip(`${command} is not installed`);
    return;
  }
  assert.equal(run.status, 0, `${command} ${args.join(' ')}:\n${run.stdout}${run.stderr}`);
}

describe('deploy/ files', () => {
  it('nginx.conf passes nginx -t', (t) => check(t, 'nginx', ['-t', '-q', '-c', `${deploy}nginx.conf`]));
  it('haproxy.cfg passes haproxy -c', (t) => check(t, 'haproxy', ['-c', '-q', '-f', `${deploy}haproxy.cfg`]));
  it('weir.service passes systemd-analyze verify', (t) =>
    check(t, 'systemd-analyze', ['verify', `${deploy}weir.service`]));

  it('every balancer closes idle connections before weir does (65 s)', () => {
    assert.match(read('nginx.conf'), /keepalive_timeout 60s;/);
    assert.match(read('haproxy.cfg'), /timeout http-keep-alive 60s/);
  });

  it('every stop deadline is above weir’s 10 s drain, the preStop wait included', () => {
    assert.match(read('weir.service'), /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    assert.ok(Number(/^TimeoutStopSec=(\d+)s$/m.exec(read('weir.service'))?.[1]) > 10);
    assert.ok(Number(/stop_grace_period: (\d+)s/.exec(read('compose.yaml'))?.[1]) > 10);
    const k8s = read('kubernetes.yaml');
    const grace = Number(/terminationGracePeriodSeconds: (\d+)/.exec(k8s)?.[1]);
    const preStopMs = Number(/setTimeout\(\(\) => \{\}, (\d+)\)/.exec(k8s)?.[1]);
    assert.ok(grace > preStopMs / 1000 + 10, `grace ${grace} s, preStop ${preStopMs} ms`);
    assert.match(k8s, /readinessProbe:\n\s+httpGet: \{ path: \/readyz/);
    assert.match(k8s, /livenessProbe:\n\s+httpGet: \{ path: \/healthz/);
  });
});
