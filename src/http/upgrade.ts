/**
 * The server's `upgrade` listener, installed only by an app with WebSocket routes (`app.ws()`), so the
 * ordinary request path never sees it. Per upgrade request:
 *
 * 1. the protocol checks, the drain, the route lookup (404 for a path with no WebSocket route), the
 *    handshake headers (400), the route's `origins` (403), `maxConnections` (503) and, while the overload
 *    limiter sheds, the limiter's own 503 with `Retry-After`, with no middleware run;
 * 2. the route's chain (the app's middleware, then the route's own) with a Context whose response is
 *    written on the upgrade's socket: middleware that throws or answers (a 401 from `requireAuth()`, a
 *    redirect) sends that answer as any route would, and the connection closes;
 * 3. when the chain ends with the route itself (every middleware let it through), src/ws/accept.ts
 *    (loaded then, with `ws`) completes the handshake, with the headers middleware set (a session
 *    cookie) on the 101 response.
 * The socket is never left hanging: the chain has `handshakeTimeoutMs` (then 408), and every refusal
 * ends the connection once its answer is out.
 */
import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type ErrorCode, httpError, type WeirError } from '../errors.ts';
import { NORMAL_PRIORITY } from '../overload/options.ts';
import type { AppRuntime, RouteSettings } from './app-runtime.ts';
import type { ErrorResult } from './compose.ts';
import { Context } from './context.ts';
import { observeRequest, publishRequest, requestChannel, UNMATCHED } from './observe.ts';
import { shedRequest } from './pipeline.ts';
import { checkRequest, readTarget } from './protocol.ts';
import { deliver, discard } from './send.ts';
import type { WsRoute, WsSettings } from './ws-route.ts';

/** The server's `upgrade` listener. */
export type UpgradeListener = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** What the listener needs of the dispatcher. */
export interface UpgradeRoutes {
  /** The WebSocket route of `path` and its params; undefined when the path has none. */
  wsRoute(
    path: string,
  ):
    | { run: (ctx: Context) => unknown; params: Record<string, string>; ws: WsRoute; pattern: string }
    | undefined;
  readonly errorResult: ErrorResult;
  /** The app's request listener. */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => void;
}

type Accept = typeof import('../ws/accept.ts').accept;
let accepting: Promise<Accept> | undefined;

const NO_SETTINGS: RouteSettings = {
  bodyLimitBytes: undefined,
  maxJsonDepth: undefined,
  bodyRate: undefined,
};
const EMPTY_PARAMS: Record<string, string> = Object.freeze(Object.create(null));
const KEY = /^[+/0-9A-Za-z]{22}==$/;
/** Bytes a client may send before the handshake's answer (it should send none); past it, cut. */
const EARLY_BYTES = 64 * 1024;

function onSocketError(this: Duplex): void {
  this.destroy();
}

/** The `upgrade` listener of an app's server. */
export function upgradeListener(routes: UpgradeRoutes, runtime: AppRuntime): UpgradeListener {
  return (req, socket, head) => {
    // Observers (the access log, metrics) time an upgrade from its arrival, as any request.
    const arrived = requestChannel.hasSubscribers ? performance.now() : -1;
    socket.on('error', onSocketError);
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.shouldKeepAlive = false;
    // Once a refusal is out, the connection ends (and is cut if the client holds it open).
    res.once('finish', () => (socket as Socket).destroySoon());
    const method = req.method ?? 'GET';
    let url = req.url ?? '/';
    const refuse = (
      path: string,
      params: Record<string, string>,
      err: WeirError,
      pattern = UNMATCHED,
    ): void => {
      const ctx = new Context(req, res, method, path, '', params, NO_SETTINGS, runtime);
      if (arrived >= 0) observeRequest(ctx, pattern, arrived, runtime);
      deliver(ctx, routes.errorResult(ctx, err), routes.errorResult);
    };
    // Another protocol (h2c), on any path: served as the plain request it also is, as Node does without
    // an upgrade listener (the client cannot insist, RFC 9110 §7.8), when it has no body to read.
    const h = req.headers;
    const other = h.upgrade?.toLowerCase() !== 'websocket';
    if (other && h['content-length'] === undefined && h['transfer-encoding'] === undefined) {
      routes.handle(req, res);
      return;
    }
    const refused = checkRequest(req);
    if (refused !== undefined) return refuse('/', EMPTY_PARAMS, refused);
    if (url.charCodeAt(0) !== 47 /* "/" */) {
      const target = readTarget(url, method);
      if (!('url' in target)) {
        return refuse(
          '/',
          EMPTY_PARAMS,
          'error' in target ? target.error : refusal('WEIR_ERR_BAD_REQUEST', 'Bad target'),
        );
      }
      url = target.url;
    }
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (runtime.draining) {
      return refuse(
        path,
        EMPTY_PARAMS,
        refusal('WEIR_ERR_SHUTTING_DOWN', 'The server is shutting down; connect again'),
      );
    }
    const found = routes.wsRoute(path);
    if (found === undefined) {
      return refuse(path, EMPTY_PARAMS, refusal('WEIR_ERR_NOT_FOUND', `No WebSocket route for ${path}`));
    }
    const params = decoded(found.params);
    if (params === undefined) {
      return refuse(
        path,
        EMPTY_PARAMS,
        refusal('WEIR_ERR_BAD_REQUEST', 'Malformed percent-encoding in the path'),
      );
    }
    const ctx = new Context(
      req,
      res,
      method,
      path,
      q === -1 ? '' : url.slice(q + 1),
      params,
      NO_SETTINGS,
      runtime,
    );
    const route = found.ws;
    const problem = handshakeProblem(req, method, route.settings, ctx);
    if (problem !== undefined) return refuse(path, params, problem, found.pattern);
    if (route.open >= route.settings.maxConnections) {
      return refuse(
        path,
        params,
        refusal('WEIR_ERR_WS_FULL', `The WebSocket route ${path} is full; connect again later`),
        found.pattern,
      );
    }
    // While the app's overload limiter sheds requests (and the second after), a new socket, which would
    // go on making work, is turned away as fast and as honestly as a shed request: its 503 and
    // Retry-After, no middleware run, counted at the default class. Sockets already open are kept.
    const limiter = runtime.limiter;
    if (limiter?.shedding === true) {
      limiter.refused(NORMAL_PRIORITY);
      return shedRequest(req, res, runtime, limiter.settings.retryAfterSeconds);
    }
    // Its record comes when its answer's connection closes (a refusal, the timeout), or as a 101 once the
    // socket is open (its response is then detached and never closes).
    const before = (socket as Socket).bytesWritten ?? 0;
    if (arrived >= 0) observeRequest(ctx, found.pattern, arrived, runtime);
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      const err = refusal(
        'WEIR_ERR_WS_HANDSHAKE_TIMEOUT',
        `The upgrade was not let through within ${route.settings.handshakeTimeoutMs} ms`,
      );
      deliver(ctx, routes.errorResult(ctx, err), routes.errorResult);
      ctx.abort(err);
    }, route.settings.handshakeTimeoutMs);
    // The socket is read during the middleware, so that a client that leaves is seen (the timer goes,
    // ctx.signal aborts with the response). A client sends nothing before the 101 (RFC 6455 §4.1); what
    // one sends anyway is kept for the socket, up to EARLY_BYTES.
    const early: Buffer[] = [];
    let earlyBytes = head.length;
    const onData = (chunk: Buffer): void => {
      earlyBytes += chunk.length;
      if (earlyBytes > EARLY_BYTES) socket.destroy();
      else early.push(chunk);
    };
    const onEnd = (): void => {
      socket.destroy();
    };
    const gone = (): void => {
      settled = true;
      clearTimeout(timer);
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', gone);
    const settle = (value: unknown): void => {
      if (settled) {
        discard(value);
        return;
      }
      settled = true;
      clearTimeout(timer);
      socket.off('close', gone);
      socket.off('data', onData);
      socket.off('end', onEnd);
      // Read again by ws once it has its listeners (accept.ts).
      socket.pause();
      if (value !== route) {
        deliver(ctx, value, routes.errorResult);
        return;
      }
      if (socket.destroyed) return;
      res.detachSocket(socket as Socket);
      socket.off('error', onSocketError);
      accepting ??= import('../ws/accept.ts').then((m) => m.accept);
      accepting.then(
        (accept) => {
          const opened = accept(
            route,
            ctx,
            req,
            socket,
            early.length === 0 ? head : Buffer.concat([head, ...early]),
            runtime,
          );
          if (opened && arrived >= 0) {
            const bytes = ((socket as Socket).bytesWritten ?? 0) - before;
            publishRequest(ctx, found.pattern, 101, arrived, bytes, true, runtime);
          }
        },
        (err: unknown) => {
          runtime.log.error({ err }, 'the WebSocket module failed to load');
          socket.destroy();
        },
      );
    };
    let result: unknown;
    try {
      result = found.run(ctx);
    } catch (err) {
      result = routes.errorResult(ctx, err);
    }
    if (result instanceof Promise)
      result.then(settle, (err: unknown) => settle(routes.errorResult(ctx, err)));
    else settle(result);
  };
}

function refusal(code: ErrorCode, message: string): WeirError {
  return httpError(code, message);
}

/** Decodes percent-encoded params into a copy; undefined when one is malformed. */
function decoded(params: Record<string, string>): Record<string, string> | undefined {
  if (params === EMPTY_PARAMS) return params;
  const out: Record<string, string> = Object.create(null);
  for (const name in params) {
    try {
      out[name] = decodeURIComponent(params[name]!);
    } catch {
      return undefined;
    }
  }
  return out;
}

/** Why a request cannot be a WebSocket handshake (RFC 6455 §4.2.1), or its Origin is refused. */
function handshakeProblem(
  req: IncomingMessage,
  method: string,
  settings: WsSettings,
  ctx: Context,
): WeirError | undefined {
  const h = req.headers;
  if (method !== 'GET' || h.upgrade?.toLowerCase() !== 'websocket') {
    return refusal('WEIR_ERR_WS_HANDSHAKE', 'A WebSocket handshake is a GET with Upgrade: websocket');
  }
  const key = h['sec-websocket-key'];
  if (key === undefined || !KEY.test(key.trim())) {
    return refusal('WEIR_ERR_WS_HANDSHAKE', 'Sec-WebSocket-Key is missing or malformed');
  }
  const version = h['sec-websocket-version'];
  if (version !== '13' && version !== '8') {
    return httpError('WEIR_ERR_WS_HANDSHAKE', 'Sec-WebSocket-Version must be 13', undefined, {
      headers: { 'sec-websocket-version': '13' },
    });
  }
  const origin = h.origin;
  if (origin !== undefined && !originAllowed(origin, h.host, settings, ctx)) {
    // The Origin is not echoed: it is the client's, and the log has the request.
    return refusal('WEIR_ERR_WS_ORIGIN', 'This Origin may not open a WebSocket here');
  }
  return undefined;
}

function originAllowed(
  origin: string,
  host: string | undefined,
  settings: WsSettings,
  ctx: Context,
): boolean {
  const allowed = settings.origins;
  if (allowed === 'any') return true;
  if (typeof allowed === 'function') return allowed(origin, ctx) === true;
  if (allowed !== 'same-origin') return allowed.includes(origin);
  if (host === undefined) return false;
  try {
    const parsed = new URL(origin);
    return (
      (parsed.protocol === 'http:' || parsed.protocol === 'https:') &&
      parsed.host === new URL(`http://${host}`).host
    );
  } catch {
    return false;
  }
}
