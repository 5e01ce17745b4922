/**
 * A WebSocket route as the HTTP core keeps it: its options (validated when the route is added) and the
 * value its chain ends with, which tells upgrade.ts that every middleware let the upgrade through. Loads
 * nothing of `ws`: an app's first accepted upgrade does (src/ws/accept.ts).
 */
import { httpError, invalidOption } from '../errors.ts';
import type { WsHandler } from '../ws/types.ts';
import type { App } from './app.ts';
import type { Middleware, Provides } from './compose.ts';
import type { Context } from './context.ts';

/**
 * Which `Origin` may open a socket on the route:
 * - `'same-origin'` (the default): the Origin's host (and port) must equal the request's `Host`;
 * - an array: the Origins allowed, as the browser sends them (`'https://app.example.com'`);
 * - a function: decides from the Origin and the upgrade's context;
 * - `'any'`: every Origin (a public socket that cookies do not authenticate).
 * A request with no `Origin` (not a browser: browsers always send one) passes each of them; cross-site
 * WebSocket hijacking, which this check stops, needs a browser.
 */
export type WsOrigins =
  | 'same-origin'
  | 'any'
  | readonly string[]
  | ((origin: string, ctx: Context) => boolean);

/** Options of `app.ws()`. Every limit has a safe default. */
export interface WsRouteOptions {
  /** Largest incoming message; a larger one closes the socket with 1009. @default 1048576 (1 MiB) */
  maxMessageBytes?: number;
  /**
   * Bytes sent that the client has not taken yet past which it is dropped as too slow: closed with
   * 1013, and cut if it does not answer within `closeTimeoutMs`. @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /** Incoming messages waiting for the handler past which weir stops reading the connection. @default 64 */
  maxQueuedMessages?: number;
  /** A ping goes out this often; a client that has not answered the previous one is cut. `0`: none. @default 30000 */
  pingIntervalMs?: number;
  /** How long the upgrade's middleware may take before the client gets 408. @default 10000 */
  handshakeTimeoutMs?: number;
  /** How long a closing handshake weir started may take before the connection is cut. @default 1000 */
  closeTimeoutMs?: number;
  /** Sockets open at once on the route; past it upgrades get 503. @default 10000 */
  maxConnections?: number;
  /** Compression (`permessage-deflate`): it costs memory per socket and CPU per message. @default false */
  perMessageDeflate?: boolean;
  /** See {@link WsOrigins}. @default 'same-origin' */
  origins?: WsOrigins;
  /** Subprotocols the route speaks, preferred first; the handshake agrees on the first the client offers. */
  protocols?: readonly string[];
}

/** The validated options of a route. */
export interface WsSettings {
  readonly maxMessageBytes: number;
  readonly maxBufferedBytes: number;
  readonly maxQueuedMessages: number;
  readonly pingIntervalMs: number;
  readonly handshakeTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly maxConnections: number;
  readonly perMessageDeflate: boolean;
  readonly origins: WsOrigins;
  readonly protocols: readonly string[];
}

const MAX_TIMER = 2_147_483_647;

function integer(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidOption(`ws() ${name}`, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

/** Checks a route's options, once, when it is added. */
export function wsSettings(options: WsRouteOptions): WsSettings {
  const origins = options.origins ?? 'same-origin';
  if (
    origins !== 'same-origin' &&
    origins !== 'any' &&
    typeof origins !== 'function' &&
    !(Array.isArray(origins) && origins.every((o) => typeof o === 'string'))
  ) {
    throw invalidOption('ws() origins', "'same-origin', 'any', an array of origins or a function", origins);
  }
  const protocols = options.protocols ?? [];
  if (
    !Array.isArray(protocols) ||
    !protocols.every((p) => typeof p === 'string' && /^[!#-'*+.^-z|~0-9A-Z-]+$/.test(p))
  ) {
    throw invalidOption('ws() protocols', 'an array of protocol tokens', protocols);
  }
  if (options.perMessageDeflate !== undefined && typeof options.perMessageDeflate !== 'boolean') {
    throw invalidOption('ws() perMessageDeflate', 'a boolean', options.perMessageDeflate);
  }
  return {
    maxMessageBytes: integer('maxMessageBytes', options.maxMessageBytes, 1024 * 1024, 1),
    maxBufferedBytes: integer('maxBufferedBytes', options.maxBufferedBytes, 1024 * 1024, 1),
    maxQueuedMessages: integer('maxQueuedMessages', options.maxQueuedMessages, 64, 1),
    pingIntervalMs: integer('pingIntervalMs', options.pingIntervalMs, 30_000, 0, MAX_TIMER),
    handshakeTimeoutMs: integer('handshakeTimeoutMs', options.handshakeTimeoutMs, 10_000, 1, MAX_TIMER),
    closeTimeoutMs: integer('closeTimeoutMs', options.closeTimeoutMs, 1000, 1, MAX_TIMER),
    maxConnections: integer('maxConnections', options.maxConnections, 10_000, 1),
    perMessageDeflate: options.perMessageDeflate ?? false,
    origins: Array.isArray(origins) ? [...origins] : origins,
    protocols: [...protocols],
  };
}

/**
 * A WebSocket route's settings and handler. Its chain's last step returns it: when the chain of the
 * upgrade ends with it, every middleware let the upgrade through.
 */
export class WsRoute {
  readonly settings: WsSettings;
  readonly handler: WsHandler;
  /** Sockets open on the route. */
  open = 0;
  /** The route's `ws` server, made on its first accepted upgrade (src/ws/accept.ts). */
  server: unknown;

  constructor(settings: WsSettings, handler: WsHandler) {
    this.settings = settings;
    this.handler = handler;
  }
}

/** On a WebSocket route's last step (the function that returns its {@link WsRoute}): the route. */
export const kWsRoute = Symbol('weir.ws-route');

/**
 * Reads `app.ws()`'s arguments (options first when given, then middleware, then the handler) into the
 * route's middleware and its handler (its chain's last step), which returns the route.
 */
export function wsRouteArgs(
  path: string,
  args: unknown[],
): { middleware: Middleware<object>[]; handler: (ctx: Context) => WsRoute } {
  const options =
    typeof args[0] === 'object' && args[0] !== null && !Array.isArray(args[0])
      ? (args.shift() as WsRouteOptions)
      : {};
  const settings = wsSettings(options);
  if (args.length === 0 || args.some((fn) => typeof fn !== 'function')) {
    throw invalidOption(`WebSocket route ${path}`, 'given middleware functions and a handler function', args);
  }
  const route = new WsRoute(settings, args.pop() as WsHandler);
  // Only upgrade.ts runs this chain; were a plain request ever routed to it (Node's parser refuses a
  // `WS` method), it would get 426, never the route.
  const last = (ctx: Context): WsRoute => {
    if (ctx.req.headers.upgrade === undefined) {
      throw httpError('WEIR_ERR_UPGRADE_REQUIRED', `${ctx.path} is a WebSocket endpoint`);
    }
    return route;
  };
  const handler = Object.assign(last, { [kWsRoute]: route });
  return { middleware: args as Middleware<object>[], handler };
}

/** The overloads of `app.ws()`: the handler typed by the path, the app's state and the guards before it. */
export interface AddWsRoute<S extends object, R> {
  <P extends string>(path: P, handler: WsHandler<P, S>): App<S, R>;
  <P extends string>(path: P, options: WsRouteOptions, handler: WsHandler<P, S>): App<S, R>;
  <P extends string, G1 extends object>(
    path: P,
    m1: Middleware<S> | (Middleware<S> & Provides<G1>),
    handler: WsHandler<P, S & G1>,
  ): App<S, R>;
  <P extends string, G1 extends object>(
    path: P,
    options: WsRouteOptions,
    m1: Middleware<S> | (Middleware<S> & Provides<G1>),
    handler: WsHandler<P, S & G1>,
  ): App<S, R>;
  <P extends string, G1 extends object, G2 extends object>(
    path: P,
    m1: Middleware<S> | (Middleware<S> & Provides<G1>),
    m2: Middleware<S> | (Middleware<S> & Provides<G2>),
    handler: WsHandler<P, S & G1 & G2>,
  ): App<S, R>;
  <P extends string, G1 extends object, G2 extends object>(
    path: P,
    options: WsRouteOptions,
    m1: Middleware<S> | (Middleware<S> & Provides<G1>),
    m2: Middleware<S> | (Middleware<S> & Provides<G2>),
    handler: WsHandler<P, S & G1 & G2>,
  ): App<S, R>;
}
