import { channel } from 'node:diagnostics_channel';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { REUSEPORT_ENV } from '../cluster/messages.ts';
import { invalidOption, WeirError } from '../errors.ts';
import type { AppRuntime } from './app-runtime.ts';
import {
  closeIdleConnections,
  defaultMaxConnections,
  drain,
  logRequests,
  onClientError,
  onConnect,
  trackResponses,
  trackSockets,
  trackUpgrades,
} from './connections.ts';

/** What `listen()` needs of an app. */
interface Listenable {
  ready(): Promise<void>;
  stop(): Promise<void>;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Installed only when defined: without a listener Node serves an upgrade request as a plain one. */
  readonly upgrade?: ((req: IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
}

/**
 * Options of `app.listen()`. The defaults are safe for a server on the open internet behind a load
 * balancer; each is a knob.
 */
export interface ListenOptions {
  /** @default 8080 */
  port?: number;
  /** @default '127.0.0.1' (use '0.0.0.0' or '::' to accept outside connections) */
  host?: string;
  /** Largest request head (request line + headers); larger answers 431. @default 16384 */
  maxHeaderSizeBytes?: number;
  /** Time to receive a complete request head; slower clients get 408. @default 30000 */
  headersTimeoutMs?: number;
  /** Time to receive a complete request (head and body). @default 60000 */
  requestTimeoutMs?: number;
  /**
   * How long an idle keep-alive connection stays open. Longer than the 60 s idle timeout of common load
   * balancers (AWS ALB, nginx upstreams), so the balancer, not weir, closes idle connections and never
   * sends a request down one weir is closing (the cause of sporadic 502s). @default 65000
   */
  keepAliveTimeoutMs?: number;
  /**
   * Most connections open at once; past it new connections are closed as soon as they are accepted
   * (logged at most every 10 s). @default three quarters of the process's open-file limit, at most 10000
   */
  maxConnections?: number;
  /** Disable Nagle's algorithm on connections. @default true */
  noDelay?: boolean;
  /** Signals that start a graceful shutdown, or `false` for none. @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[] | false;
  /** Exit the process (0, or 1 if shutdown failed) once a signal-triggered shutdown ends. @default true */
  exitOnSignal?: boolean;
  /** How long a signal-triggered shutdown lets in-flight requests run. @default 10000 */
  shutdownTimeoutMs?: number;
  /**
   * Fields the one `listening` log line carries besides the URL, such as the backends in use (give URLs
   * without passwords: each backend's `url` property is already redacted).
   * @example app.listen({ port, startupInfo: { database: db.url, cache: cache.url } })
   */
  startupInfo?: Readonly<Record<string, unknown>>;
}

/** Options of {@link ServerHandle.close}. */
export interface CloseOptions {
  /** How long in-flight requests may still run before their connections are cut. @default 10000 */
  timeoutMs?: number;
}

/** A listening server. */
export interface ServerHandle {
  readonly server: Server;
  /** The bound port (useful with `port: 0`). */
  readonly port: number;
  readonly host: string;
  /** `http://host:port`. */
  readonly url: string;
  /**
   * Graceful shutdown: stops accepting, answers in-flight requests and the next request on each
   * kept-alive connection with `Connection: close`, closes connections that stay quiet for 250 ms, cuts
   * what is still running after `timeoutMs`, then runs the app's `onStop` hooks in reverse order.
   * Idempotent.
   */
  close(options?: CloseOptions): Promise<void>;
}

/**
 * Published once per server that starts listening, with `{ handle, startupInfo }`: how a supervisor
 * (`weir/cluster`'s worker side) learns that the process is ready and how to drain it, whoever called
 * `listen()`.
 */
export const listeningChannel = channel('weir:http.listening');

const open = new Set<{ handle: ServerHandle; shutdownTimeoutMs: number; exit: boolean }>();
const installed = new Set<NodeJS.Signals>();
let shuttingDown = false;

function onSignal(signal: NodeJS.Signals): void {
  if (shuttingDown) {
    // A second signal while draining: the operator means it.
    process.exit(1);
  }
  shuttingDown = true;
  const entries = [...open];
  const exit = entries.some((e) => e.exit);
  void Promise.allSettled(entries.map((e) => e.handle.close({ timeoutMs: e.shutdownTimeoutMs }))).then(
    (results) => {
      const failed = results.some((r) => r.status === 'rejected');
      for (const r of results)
        if (r.status === 'rejected') console.error(`weir: shutdown after ${signal} failed:`, r.reason);
      if (exit) process.exit(failed ? 1 : 0);
      for (const s of installed) process.off(s, onSignal);
      installed.clear();
      shuttingDown = false;
    },
  );
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw invalidOption(name, 'a positive number', value);
  return value;
}

/** Starts an HTTP server for `app`. */
export async function listen(
  app: Listenable,
  runtime: AppRuntime,
  options: ListenOptions,
): Promise<ServerHandle> {
  const port = options.port ?? 8080;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw invalidOption('listen port', 'an integer 0…65535', port);
  const host = options.host ?? '127.0.0.1';
  // A worker under `reuseport` scheduling binds the port itself (see weir/cluster).
  const reusePort = process.env[REUSEPORT_ENV] === '1';
  if (port === 0 && reusePort) {
    // Each worker would bind a port of its own.
    throw invalidOption(
      'listen port',
      'a fixed port when the workers bind it themselves (scheduling reuseport)',
      0,
    );
  }
  const keepAliveTimeout = positive('keepAliveTimeoutMs', options.keepAliveTimeoutMs, 65_000);
  const headersTimeout = positive('headersTimeoutMs', options.headersTimeoutMs, 30_000);
  const requestTimeout = positive('requestTimeoutMs', options.requestTimeoutMs, 60_000);
  const maxHeaderSize = positive('maxHeaderSizeBytes', options.maxHeaderSizeBytes, 16_384);
  const shutdownTimeoutMs = positive('shutdownTimeoutMs', options.shutdownTimeoutMs, 10_000);
  const maxConnections = positive('maxConnections', options.maxConnections, defaultMaxConnections());
  const signals = options.signals === undefined ? (['SIGTERM', 'SIGINT'] as const) : options.signals;

  await app.ready();
  const server = createServer(
    {
      maxHeaderSize,
      headersTimeout: Math.min(headersTimeout, requestTimeout),
      requestTimeout,
      // weir times idle connections itself (closeIdleConnections, below): no timer per request.
      keepAliveTimeout: 0,
      // Node checks the two timeouts above on this interval (30 s by default), so a timeout of 3 s fired
      // up to 30 s late. A sweep over the connection list a second is cheap; shorter timeouts sweep more.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.min(headersTimeout, requestTimeout) / 4)),
      // weir answers a missing Host itself, with its JSON error (see protocol.ts).
      requireHostHeader: false,
      noDelay: options.noDelay ?? true,
    },
    trackResponses(
      process.env.WEIR_DEV === '1' ? logRequests(app.handler, runtime.log) : app.handler,
      keepAliveTimeout,
    ),
  );
  server.maxConnections = maxConnections;
  server.on('clientError', onClientError);
  server.on('connect', onConnect);
  const upgrade = app.upgrade;
  if (upgrade !== undefined) server.on('upgrade', trackUpgrades(upgrade));
  let dropped = 0;
  let dropLogged = 0;
  server.on('drop', () => {
    dropped++;
    const now = Date.now();
    if (now - dropLogged >= 10_000) {
      dropLogged = now;
      runtime.log.warn({ maxConnections, dropped }, 'connection limit reached: closing new connections');
    }
  });
  const sockets = trackSockets(server);
  closeIdleConnections(server, sockets, keepAliveTimeout);

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message;
      reject(new WeirError('WEIR_ERR_LISTEN', `Cannot listen on ${host}:${port}: ${why}`, { cause: err }));
    };
    server.once('error', onError);
    // Node ≥ 22.12 knows `reusePort` (the primary checked); `exclusive` keeps a worker from asking the
    // primary for the port.
    server.listen({ port, host, ...(reusePort && { exclusive: true, reusePort: true }) }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  let closing: Promise<void> | undefined;
  const entry = {
    handle: undefined as unknown as ServerHandle,
    shutdownTimeoutMs,
    exit: options.exitOnSignal ?? true,
  };
  const handle: ServerHandle = {
    server,
    port: boundPort,
    host,
    url: `http://${urlHost}:${boundPort}`,
    close(closeOptions?: CloseOptions): Promise<void> {
      const timeoutMs = positive('close timeoutMs', closeOptions?.timeoutMs, 10_000);
      closing ??= drain(server, sockets, runtime, timeoutMs)
        .finally(() => open.delete(entry))
        .then(() => app.stop())
        .then(() => runtime.log.info({ url: handle.url }, 'stopped'));
      return closing;
    },
  };
  entry.handle = handle;
  open.add(entry);
  if (signals !== false) {
    for (const signal of signals) {
      if (!installed.has(signal)) {
        installed.add(signal);
        process.on(signal, onSignal);
      }
    }
  }
  runtime.log.info({ url: handle.url, ...options.startupInfo }, 'listening');
  if (listeningChannel.hasSubscribers) listeningChannel.publish({ handle, startupInfo: options.startupInfo });
  return handle;
}

/**
 * A handle for a server that never listened: what `listen()` returns in inspect mode (`weir routes`), so
 * a module's top-level `await app.listen()` completes without binding a port.
 */
export function dormantHandle(options: ListenOptions): ServerHandle {
  const port = options.port ?? 8080;
  const host = options.host ?? '127.0.0.1';
  return {
    server: createServer(),
    port,
    host,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () => Promise.resolve(),
  };
}
