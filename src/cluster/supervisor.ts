/**
 * The primary of multi-process mode: forks N workers that share the listening port (node:cluster) and
 * supervises them. It loads no user code: no database opened, no migration run, only processes watched.
 *
 * Inputs: the worker count and how to start one (script, arguments), SIGTERM/SIGINT (stop), SIGHUP or
 * `reload()` (rolling reload), workers' `ready` messages and exits.
 * Guarantees:
 * - A worker that exits unasked is restarted after a backoff (100 ms doubling to 10 s), with one log line
 *   (exit code or signal, uptime). A slot whose workers exited `crashLoopExits` times within
 *   `crashLoopWindowMs` is not restarted again; with no worker left the primary exits 1.
 * - Stop: every worker drains (HTTP, then job consumers and onStop hooks) within `drainTimeoutMs`; one
 *   still running 5 s after that is killed, with a log line. The primary then exits 0. A second signal
 *   kills the workers at once and exits 1.
 * - Rolling reload: for each worker in turn, a new one starts and the old one drains only once the new
 *   one listens, so the port always has ready workers. A new worker that exits before it is ready stops
 *   the reload; the old workers keep serving.
 * - `metrics`: `GET /metrics` sums every worker's metrics; its port is bound before any fork, or the
 *   start fails.
 * Every worker is in one state (`starting`, `ready`, `stopping`), changed only by {@link setState}.
 */
import cluster, { type Worker } from 'node:cluster';
import { invalidOption } from '../errors.ts';
import { isWorkerMessage, type PrimaryMessage, REUSEPORT_ENV } from './messages.ts';
import { claimPidFile, releasePidFile } from './pid-file.ts';
import { checkPrimaryMetrics, type PrimaryMetricsServer, servePrimaryMetrics } from './primary-metrics.ts';
import type { Primary, PrimaryOptions } from './primary-options.ts';
import { checkScheduling, reusePortWarning } from './scheduling.ts';

type State = 'starting' | 'ready' | 'stopping';

interface Managed {
  readonly worker: Worker;
  readonly slot: Slot;
  readonly startedAt: number;
  state: State;
  /** Forked by a reload and not ready yet: if it exits, the reload stops and nothing restarts it. */
  trial: boolean;
  ready: Promise<boolean>;
  markReady: (ok: boolean) => void;
  exited: Promise<void>;
  info?: Record<string, unknown>;
  url?: string;
  killTimer?: NodeJS.Timeout;
}

interface Slot {
  readonly id: number;
  /** When its workers exited unasked, oldest first, within the crash-loop window. */
  exits: number[];
  restart?: NodeJS.Timeout;
  /** A reload is starting the replacement of this slot's worker. */
  replacing?: boolean;
}

const KILL_MARGIN_MS = 5000;

/**
 * Starts the primary and its workers.
 * @example
 * import cluster from 'node:cluster';
 * import { attachWorker, startPrimary } from 'weir/cluster';
 * if (cluster.isPrimary) startPrimary({ workers: 2 });
 * else { attachWorker(); await import('./main.js'); }
 */
export function startPrimary(options: PrimaryOptions): Primary {
  const count = options.workers;
  if (!Number.isInteger(count) || count < 1) throw invalidOption('workers', 'an integer ≥ 1', count);
  if (options.metrics !== undefined) checkPrimaryMetrics(options.metrics);
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const loopExits = options.crashLoopExits ?? 5;
  const loopWindowMs = options.crashLoopWindowMs ?? 30_000;
  const log = options.log ?? ((line: string) => process.stdout.write(`${line}\n`));

  const scheduling = checkScheduling(options.scheduling);
  // Under reuseport the workers bind the port themselves: no connection goes through the primary.
  cluster.schedulingPolicy = scheduling === 'rr' ? cluster.SCHED_RR : cluster.SCHED_NONE;
  const workerEnv = scheduling === 'reuseport' ? { [REUSEPORT_ENV]: '1' } : {};
  cluster.setupPrimary({
    exec: options.exec ?? process.argv[1],
    args: [...(options.args ?? process.argv.slice(2))],
    execArgv: [...(options.execArgv ?? process.execArgv)],
  });
  if (options.pidFile !== undefined) claimPidFile(options.pidFile, log);

  const running = new Set<Managed>();
  const slots: Slot[] = [];
  let stopping = false;
  let announced = false;
  let metricsServer: PrimaryMetricsServer | undefined;
  let finish!: (code: number) => void;
  const exited = new Promise<number>((resolve) => {
    finish = (code) => {
      for (const slot of slots) clearTimeout(slot.restart);
      removeSignals();
      const closed = metricsServer?.close() ?? Promise.resolve();
      if (options.pidFile !== undefined) releasePidFile(options.pidFile);
      resolve(closed.then(() => code));
      if (options.exitProcess ?? true) process.exit(code);
    };
  });

  const setState = (m: Managed, state: State): void => {
    m.state = state;
  };

  const fork = (slot: Slot, trial = false): Managed => {
    const worker = cluster.fork({ ...options.env, ...workerEnv, WEIR_WORKER_SLOT: String(slot.id) });
    let markReady!: (ok: boolean) => void;
    const m: Managed = {
      worker,
      slot,
      startedAt: Date.now(),
      state: 'starting',
      trial,
      ready: new Promise<boolean>((resolve) => {
        markReady = resolve;
      }),
      markReady: (ok) => markReady(ok),
      exited: new Promise<void>((resolve) => worker.once('exit', () => resolve())),
    };
    running.add(m);
    const readyTimer = setTimeout(() => {
      if (m.state !== 'starting') return;
      log(`weir: worker ${slot.id} (pid ${pid(m)}) did not listen within ${readyTimeoutMs} ms; killing it`);
      worker.process.kill('SIGKILL');
    }, readyTimeoutMs);
    worker.on('message', (message: unknown) => {
      if (!isWorkerMessage(message)) return;
      if (message.type === 'closed') {
        const answer: PrimaryMessage = { weir: 1, type: 'closed' };
        if (worker.isConnected()) worker.send(answer, () => undefined);
        return;
      }
      if (message.type !== 'ready' || m.state !== 'starting') return;
      clearTimeout(readyTimer);
      setState(m, 'ready');
      m.trial = false;
      m.url = message.url;
      m.info = message.info;
      m.markReady(true);
      if (stopping) sendStop(m);
      else announce();
    });
    worker.once('exit', (code, signal) => {
      clearTimeout(readyTimer);
      clearTimeout(m.killTimer);
      running.delete(m);
      m.markReady(false);
      onExit(m, code, signal);
    });
    return m;
  };

  const announce = (): void => {
    if (announced) return;
    const ready = [...running].filter((m) => m.state === 'ready');
    if (ready.length < count) return;
    announced = true;
    const first = ready[0]!;
    const policy = scheduling === 'rr' ? '' : `, scheduling ${scheduling}`;
    log(
      `weir: serving ${first.url} with ${count} worker${count === 1 ? '' : 's'} (primary pid ${process.pid}${policy})${backends(first.info ?? {}, count)}`,
    );
    const warning = scheduling === 'reuseport' ? reusePortWarning() : undefined;
    if (warning !== undefined) log(warning);
  };

  const onExit = (m: Managed, code: number | null, signal: string | null): void => {
    if (m.state === 'stopping' || stopping || m.trial) {
      if (m.trial && !stopping)
        log(`weir: new worker ${m.slot.id} (pid ${pid(m)}) ${how(code, signal)} before it was ready`);
      if (stopping && running.size === 0) {
        log('weir: every worker stopped');
        finish(0);
      }
      return;
    }
    const now = Date.now();
    const slot = m.slot;
    slot.exits = [...slot.exits.filter((t) => now - t < loopWindowMs), now];
    const what = `weir: worker ${slot.id} (pid ${pid(m)}) ${how(code, signal)} after ${seconds(now - m.startedAt)}`;
    if (slot.replacing) {
      // A reload is starting this worker's replacement: restarting it too would make one worker more.
      log(`${what}; its replacement is starting`);
      return;
    }
    restartLater(slot, what);
  };

  /** Forks a worker in `slot` after its backoff, or leaves it down when it crash-loops. */
  const restartLater = (slot: Slot, what: string): void => {
    if (slot.exits.length >= loopExits) {
      log(`${what}; it exited ${slot.exits.length} times within ${seconds(loopWindowMs)}: not restarting it`);
      if (running.size === 0 && slots.every((s) => s.restart === undefined)) {
        log('weir: no worker left; the primary exits');
        finish(1);
      }
      return;
    }
    const delay = Math.min(10_000, 100 * 2 ** Math.max(0, slot.exits.length - 1));
    log(`${what}; restarting it in ${delay} ms`);
    slot.restart = setTimeout(() => {
      slot.restart = undefined;
      if (!stopping) fork(slot);
    }, delay);
  };

  const sendStop = (m: Managed): void => {
    setState(m, 'stopping');
    const message: PrimaryMessage = { weir: 1, type: 'stop', timeoutMs: drainTimeoutMs };
    if (m.worker.isConnected()) m.worker.send(message, () => undefined);
    else m.worker.process.kill('SIGTERM');
    m.killTimer = setTimeout(() => {
      log(
        `weir: worker ${m.slot.id} (pid ${pid(m)}) did not stop within ${seconds(drainTimeoutMs + KILL_MARGIN_MS)}; killing it`,
      );
      m.worker.process.kill('SIGKILL');
    }, drainTimeoutMs + KILL_MARGIN_MS);
  };

  let reloading: Promise<void> | undefined;
  let again = false;
  const reloadOnce = async (): Promise<void> => {
    const old = [...running].filter((m) => m.state !== 'stopping');
    log(`weir: reloading ${old.length} worker${old.length === 1 ? '' : 's'}, one at a time`);
    let replaced = 0;
    for (const previous of old) {
      if (stopping) return;
      // One that exited meanwhile is being restarted already, on the new code.
      if (!running.has(previous)) continue;
      const slot = previous.slot;
      slot.replacing = true;
      const next = fork(slot, true);
      const ready = await next.ready;
      slot.replacing = false;
      if (!ready) {
        log(`weir: reload stopped after ${replaced} of ${old.length}: the old workers keep serving`);
        if (!running.has(previous) && !stopping) restartLater(slot, `weir: worker ${slot.id} is down`);
        return;
      }
      if (stopping) return;
      if (running.has(previous)) {
        sendStop(previous);
        await previous.exited;
      }
      replaced++;
    }
    log(`weir: reload done: ${replaced} worker${replaced === 1 ? '' : 's'} replaced`);
  };
  const reload = (): Promise<void> => {
    if (stopping) return Promise.resolve();
    if (reloading !== undefined) {
      again = true;
      return reloading;
    }
    reloading = (async () => {
      do {
        again = false;
        await reloadOnce();
      } while (again && !stopping);
      reloading = undefined;
    })();
    return reloading;
  };

  const stop = (): Promise<number> => {
    if (!stopping) {
      stopping = true;
      for (const slot of slots) clearTimeout(slot.restart);
      if (running.size === 0) finish(0);
      for (const m of running) if (m.state !== 'stopping') sendStop(m);
    }
    return exited;
  };

  let signalled = 0;
  const onStopSignal = (signal: NodeJS.Signals): void => {
    signalled++;
    if (signalled === 1) {
      log(`weir: ${signal}: draining ${running.size} worker${running.size === 1 ? '' : 's'}`);
      void stop();
      return;
    }
    log(`weir: second ${signal}: killing the workers now`);
    for (const m of running) m.worker.process.kill('SIGKILL');
    finish(1);
  };
  const onHup = (): void => void reload();
  const removeSignals = (): void => {
    process.off('SIGTERM', onStopSignal);
    process.off('SIGINT', onStopSignal);
    process.off('SIGHUP', onHup);
  };
  if (options.signals ?? true) {
    process.on('SIGTERM', onStopSignal);
    process.on('SIGINT', onStopSignal);
    process.on('SIGHUP', onHup);
  }

  for (let id = 1; id <= count; id++) slots.push({ id, exits: [] });
  const forkAll = (): void => {
    for (const slot of slots) if (!stopping) fork(slot);
  };
  if (options.metrics === undefined) forkAll();
  else {
    // A worker still starting is not asked: it has counted nothing, and may not have called metrics() yet.
    const targets = () =>
      [...running].filter((m) => m.state !== 'starting').map((m) => ({ worker: m.worker, slot: m.slot.id }));
    servePrimaryMetrics(options.metrics, targets).then(
      (server) => {
        metricsServer = server;
        if (stopping) {
          void server.close();
          return;
        }
        log(`weir: metrics of every worker, summed, on ${server.url}`);
        forkAll();
      },
      (err: Error) => {
        log(`weir: cannot start: ${err.message}`);
        if (!stopping) finish(1);
      },
    );
  }
  return {
    reload,
    stop,
    exited,
    pids: () => [...running].map(pid).filter((p) => p > 0),
    get metricsUrl() {
      return metricsServer?.url;
    },
  };
}

function pid(m: Managed): number {
  return m.worker.process.pid ?? 0;
}

function how(code: number | null, signal: string | null): string {
  return signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** `: database sqlite:…, cache memory: (one per worker)`: what the first worker reported, state noted. */
function backends(info: Record<string, unknown>, count: number): string {
  const parts = Object.entries(info).map(([name, value]) => {
    const text = String(value);
    const perWorker = count > 1 && text.startsWith('memory:') ? ' (one per worker, not shared)' : '';
    return `${name} ${text}${perWorker}`;
  });
  return parts.length === 0 ? '' : `: ${parts.join(', ')}`;
}
