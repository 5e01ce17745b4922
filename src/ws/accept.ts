/**
 * The handshake's last step, loaded (with `ws`) on an app's first upgrade that its middleware let
 * through: one `ws` server per route, with no server of its own (the app's server hands it the socket).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import type { AppRuntime } from '../http/app-runtime.ts';
import { kHeaders } from '../http/app-runtime.ts';
import type { Context } from '../http/context.ts';
import type { WsRoute } from '../http/ws-route.ts';
import { ServerSocket } from './socket.ts';

/** Headers of the 101 response that middleware may not set: the handshake's own. */
const RESERVED = /^(connection|upgrade|sec-websocket-.*|content-length|transfer-encoding)$/;

function serverOf(route: WsRoute): WebSocketServer {
  if (route.server !== undefined) return route.server as WebSocketServer;
  const { maxMessageBytes, perMessageDeflate, closeTimeoutMs, protocols } = route.settings;
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: maxMessageBytes,
    perMessageDeflate,
    closeTimeout: closeTimeoutMs,
    handleProtocols:
      protocols.length === 0 ? () => false : (offered) => protocols.find((p) => offered.has(p)) ?? false,
  } as ConstructorParameters<typeof WebSocketServer>[0]);
  route.server = server;
  return server;
}

/** The headers middleware set on the upgrade's context (a session cookie), as header lines. */
function headerLines(ctx: Context): string[] {
  const headers = ctx[kHeaders];
  if (headers === undefined) return [];
  const lines: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    if (RESERVED.test(name)) continue;
    for (const one of Array.isArray(value) ? value : [value]) lines.push(`${name}: ${one}`);
  }
  return lines;
}

/**
 * Completes the handshake of an upgrade every middleware let through, then runs the route's handler.
 * True when the socket opened (ws answered 101); false when it was gone or ws refused the handshake.
 */
export function accept(
  route: WsRoute,
  ctx: Context,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  runtime: AppRuntime,
): boolean {
  if (socket.destroyed) return false;
  const server = serverOf(route);
  const extra = headerLines(ctx);
  const onHeaders = (headers: string[], request: IncomingMessage): void => {
    if (request === req) headers.push(...extra);
  };
  route.open++;
  let opened = false;
  socket.once('close', () => {
    if (!opened) route.open--;
  });
  if (extra.length > 0) server.on('headers', onHeaders);
  try {
    server.handleUpgrade(req, socket, head, (ws) => {
      opened = true;
      new ServerSocket(ws, ctx, route, runtime).run();
    });
    // upgrade.ts paused the socket; ws has its listeners now (handleUpgrade is synchronous).
    if (opened) socket.resume();
  } finally {
    // ws emits 'headers' synchronously within handleUpgrade.
    if (extra.length > 0) server.off('headers', onHeaders);
  }
  return opened;
}
