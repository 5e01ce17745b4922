import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { errorBody, httpError } from '../errors.ts';
import type { Logger } from '../internal/logger.ts';
import type { AppRuntime } from './app-runtime.ts';
import { kAbort } from './app-runtime.ts';
import { httpDate } from './date.ts';
import { lastResort, SERVER } from './send.ts';

/**
 * What the server knows of its connections: the latest response of each (so a parser error on a request
 * already answered is not answered twice, and the drain deadline can answer what still runs), the bound
 * on their number, and the drain itself.
 */

/** The latest response weir was handed on a socket. */
const kResponse = Symbol('weir.response');
/**
 * The finished response a keep-alive sweep last found on the socket, the bytes the socket had read then,
 * and how many sweeps since.
 */
const kIdleSince = Symbol('weir.idleSince');
const kIdleRead = Symbol('weir.idleRead');
const kIdleSweeps = Symbol('weir.idleSweeps');
type Tracked = Socket & {
  [kResponse]?: ServerResponse | undefined;
  [kIdleSince]?: ServerResponse | undefined;
  [kIdleRead]?: number;
  [kIdleSweeps]?: number;
};

type Listener = (req: IncomingMessage, res: ServerResponse) => void;
type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/**
 * Wraps the app's request listener so each socket knows its latest response (one property store), and
 * each response advertises `keepAliveTimeoutMs` in its `Keep-Alive` header, which Node writes from a
 * field it copies from the server's `keepAliveTimeout`: 0 there, since {@link closeIdleConnections}
 * times idle connections instead of Node's socket timer.
 */
export function trackResponses(handler: Listener, keepAliveTimeoutMs: number): Listener {
  return (req, res) => {
    (req.socket as Tracked)[kResponse] = res;
    (res as { _keepAliveTimeout?: number })._keepAliveTimeout = keepAliveTimeoutMs;
    handler(req, res);
  };
}

/** Wraps the upgrade listener: an upgraded socket is no longer an HTTP connection a sweep may close. */
export function trackUpgrades(upgrade: UpgradeListener): UpgradeListener {
  return (req, socket, head) => {
    (socket as Tracked)[kResponse] = undefined;
    upgrade(req, socket, head);
  };
}

/** What Node adds to the keep-alive time it advertises, so that a client that honours it closes first. */
const KEEP_ALIVE_MARGIN_MS = 1000;

/**
 * Closes keep-alive connections idle for `timeoutMs` (plus Node's 1 s margin) by a sweep over the open
 * sockets, every quarter of the timeout (at least 50 ms, at most 1 s). Node's own keep-alive timeout arms
 * a socket timer (a `Timeout` and a bound function) as each response finishes and clears it as the next
 * request arrives: two timer-list operations on every request, ~3 % of a small JSON answer's CPU
 * (bench/README.md). A connection is idle from the first sweep that finds its latest response finished
 * and that response's request read to its end, and is closed after `timeoutMs` + 1 s of sweeps that
 * find the same and no byte read since (as Node's timer, which any byte read restarted). One that has
 * not sent a request yet is the headers timeout's; an upgraded one is left alone. Stops when the server
 * closes.
 */
export function closeIdleConnections(server: Server, sockets: Set<Socket>, timeoutMs: number): void {
  const every = Math.max(50, Math.min(1000, timeoutMs / 4));
  const sweeps = Math.ceil((timeoutMs + KEEP_ALIVE_MARGIN_MS) / every);
  const sweep = setInterval(() => {
    for (const socket of sockets as Set<Tracked>) {
      const res = socket[kResponse];
      if (res === undefined) continue;
      if (!res.writableFinished || !res.req.complete) {
        socket[kIdleSince] = undefined;
      } else if (socket[kIdleSince] !== res || socket[kIdleRead] !== socket.bytesRead) {
        // Newly idle, or bytes of a next request arrived (a head sent slowly: the headers timeout's).
        socket[kIdleSince] = res;
        socket[kIdleRead] = socket.bytesRead;
        socket[kIdleSweeps] = 0;
      } else {
        const idle = (socket[kIdleSweeps] ?? 0) + 1;
        socket[kIdleSweeps] = idle;
        if (idle >= sweeps) socket.destroy();
      }
    }
  }, every);
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
}

/**
 * Under `weir dev`: one readable line per request when its response ends, `GET /path 200 1.2 ms`
 * (`-` for a connection that closed first). Never installed otherwise.
 */
export function logRequests(handler: Listener, log: Logger): Listener {
  return (req, res) => {
    const start = performance.now();
    res.once('close', () => {
      const ms = (performance.now() - start).toFixed(1);
      const status = res.writableFinished ? String(res.statusCode) : '-';
      log.info(undefined, `${req.method} ${req.url} ${status} ${ms} ms`);
    });
    handler(req, res);
  };
}

/**
 * The default bound on open connections: three quarters of the process's descriptor limit (the rest is
 * left to files, database and broker connections), at most 10,000.
 */
export function defaultMaxConnections(): number {
  try {
    const line = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (line !== null) return Math.max(64, Math.min(10_000, Math.floor(Number(line[1]) * 0.75)));
  } catch {
    // Not Linux: the fixed default below.
  }
  return 10_000;
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

const CLIENT_ERRORS: Record<number, { code: string; message: string }> = {
  400: { code: 'WEIR_ERR_BAD_REQUEST', message: 'The request could not be parsed as HTTP/1.1' },
  408: { code: 'WEIR_ERR_REQUEST_TIMEOUT', message: 'The request was not received in time' },
  431: {
    code: 'WEIR_ERR_HEADERS_TOO_LARGE',
    message: 'The request headers are larger than the server accepts',
  },
};

/** Writes a complete JSON error response on a raw socket and closes it. */
function writeRaw(socket: Socket, status: number, code: string, message: string): void {
  const body = errorBody(code, message);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
      `date: ${httpDate()}\r\nserver: ${SERVER}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Answers a request Node's parser refused (bad syntax, head too large, too slow) with a JSON error, once.
 * When weir has already answered the request being parsed (a handler that replied without reading a
 * slowly sent body), or a response is under way, a second status line would corrupt the connection: the
 * socket is closed instead.
 */
export function onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const res = (socket as Tracked)[kResponse];
  const answered = res?.headersSent === true && (!res.writableFinished || !res.req.complete);
  if (err.code === 'ECONNRESET' || !socket.writable || answered) {
    socket.destroy();
    return;
  }
  const status =
    err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const { code, message } = CLIENT_ERRORS[status]!;
  writeRaw(socket, status, code, message);
}

/** `CONNECT`: weir is an origin server, not a proxy. Node would otherwise drop the socket unanswered. */
export function onConnect(_req: unknown, socket: Socket): void {
  writeRaw(socket, 400, 'WEIR_ERR_BAD_REQUEST', 'CONNECT is not supported: this server is not a proxy');
}

/** Keeps the set of open sockets, for the drain. One Set add and delete per connection. */
export function trackSockets(server: Server): Set<Socket> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  return sockets;
}

/** The response still being produced on `socket`, if any. */
function running(socket: Socket): ServerResponse | undefined {
  const res = (socket as Tracked)[kResponse];
  return res !== undefined && !res.writableEnded && !res.destroyed ? res : undefined;
}

/** How many requests are still being answered. */
export function inFlight(sockets: Set<Socket>): number {
  let n = 0;
  for (const socket of sockets) if (running(socket) !== undefined) n++;
  return n;
}

/**
 * Graceful shutdown: stops accepting, lets in-flight requests finish within `timeoutMs`, and moves
 * keep-alive clients off without racing them. Every response from now on carries `Connection: close`
 * (the socket closes once it is sent), so a client that sends its next request on a kept-alive
 * connection gets an answer, then reconnects elsewhere. An idle connection is closed only once it has
 * received no byte for a whole sweep ({@link DRAIN_QUIET_MS}): Node's `closeIdleConnections()`, which
 * `server.close()` calls, closes a connection the moment its response went out, which cuts the request a
 * client is sending on it at that moment. Event streams (`sse()`), which would run until the deadline,
 * end cleanly at once. At the deadline each request still running has its `ctx.signal`
 * aborted with `WEIR_ERR_SHUTTING_DOWN` and, when no status line has gone out yet, is answered 503 with
 * that code; a response already under way is cut. Then every connection still open is closed.
 */
export function drain(
  server: Server,
  sockets: Set<Socket>,
  runtime: AppRuntime,
  timeoutMs: number,
): Promise<void> {
  runtime.draining = true;
  // Streams that would run until the deadline end now: their clients reconnect to a server that stays.
  for (const end of runtime.streams) end();
  runtime.log.info({ inFlight: inFlight(sockets), timeoutMs }, 'stopping: draining in-flight requests');
  return new Promise<void>((resolve) => {
    // net's close, not http's: stop accepting without Node closing every idle connection at once.
    netClose.call(server, () => {
      stopConnectionsCheck(server);
      resolve();
    });
    // bytesRead of each idle socket at the previous sweep: unchanged for a sweep means no request started.
    const seen = new Map<Socket, number>();
    const sweep = setInterval(() => closeQuiet(sockets, seen), DRAIN_QUIET_MS);
    const deadline = setTimeout(() => cutAtDeadline(server, sockets, runtime, timeoutMs), timeoutMs);
    server.once('close', () => {
      clearInterval(sweep);
      clearTimeout(deadline);
    });
  });
}

/** How long a connection must receive nothing before a drain closes it as idle. */
export const DRAIN_QUIET_MS = 250;

const netClose = NetServer.prototype.close as (this: Server, callback: () => void) => Server;

/** The timer http.Server keeps for its header and request timeouts; http's close() clears it. */
function stopConnectionsCheck(server: Server): void {
  for (const key of Object.getOwnPropertySymbols(server)) {
    if (key.description === 'http.server.connectionsCheckingInterval') {
      clearInterval((server as unknown as Record<symbol, NodeJS.Timeout>)[key]);
    }
  }
}

/**
 * Closes every connection with no response running that received no byte since the previous sweep:
 * bytesRead counts what the kernel handed over even when Node's parser has not made a request of it yet.
 */
function closeQuiet(sockets: Set<Socket>, seen: Map<Socket, number>): void {
  for (const socket of sockets) {
    if (running(socket) !== undefined) {
      seen.delete(socket);
      continue;
    }
    const read = socket.bytesRead;
    if (seen.get(socket) === read) socket.destroy();
    else seen.set(socket, read);
  }
  for (const socket of seen.keys()) if (socket.destroyed) seen.delete(socket);
}

function cutAtDeadline(server: Server, sockets: Set<Socket>, runtime: AppRuntime, timeoutMs: number): void {
  const reason = httpError(
    'WEIR_ERR_SHUTTING_DOWN',
    `The server is shutting down and the request did not finish within ${timeoutMs} ms`,
  );
  let answered = 0;
  let cut = 0;
  const flushing: Promise<void>[] = [];
  for (const socket of sockets) {
    const res = running(socket);
    if (res === undefined) continue;
    (res as { [kAbort]?: AbortController })[kAbort]?.abort(reason);
    if (res.headersSent) {
      cut++;
      res.destroy();
      continue;
    }
    answered++;
    flushing.push(new Promise((done) => res.once('close', () => done())));
    lastResort(res, 503, 'WEIR_ERR_SHUTTING_DOWN', 'The server is shutting down; retry the request');
  }
  if (answered + cut > 0) {
    runtime.log.warn(
      { answered503: answered, cut, timeoutMs },
      'drain deadline passed: requests still running were ended',
    );
  }
  // The 503s are small and already handed to the kernel in most cases; give them a moment to flush.
  const closeAll = (): void => server.closeAllConnections();
  const grace = setTimeout(closeAll, 1000);
  grace.unref();
  void Promise.all(flushing).then(() => {
    clearTimeout(grace);
    closeAll();
  });
}
