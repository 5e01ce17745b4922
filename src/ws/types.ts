/**
 * The types of weir's WebSockets: the socket a handler gets, the handler, why a socket closed. The
 * route options live with the route (src/http/ws-route.ts), which the HTTP core reads without loading
 * `ws`.
 */
import type { Context } from '../http/context.ts';

/** An incoming message: a `string` for a text frame (valid UTF-8, checked), a `Buffer` for a binary one. */
export type WsMessage = string | Buffer;

/** What `send()` takes: a string goes out as a text frame, bytes as a binary frame. */
export type WsData = string | Uint8Array;

/**
 * Why a socket closed, as `weir:ws` reports it:
 * - `client`: the client closed it (or its connection ended);
 * - `server`: the app called `close()`;
 * - `slow`: the client fell more than `maxBufferedBytes` behind and was closed with 1013;
 * - `too-large`: the client sent a message over `maxMessageBytes` (closed with 1009);
 * - `dead`: the client answered no ping within `pingIntervalMs` and was cut;
 * - `shutdown`: the server drains (closed with 1001);
 * - `error`: the handler threw (closed with 1011), or the connection failed.
 */
export type WsCloseReason = 'client' | 'server' | 'slow' | 'too-large' | 'dead' | 'shutdown' | 'error';

/**
 * One open WebSocket, as its handler gets it. Incoming messages are read with `for await (const m of
 * socket)`: they wait in a small queue (`maxQueuedMessages`) while the handler is busy, and past it weir
 * stops reading the connection, so a client that sends faster than the app reads is slowed by TCP, not
 * buffered without bound. The loop ends when the socket closes.
 */
export interface WsSocket<P extends string = string, S extends object = Record<never, never>>
  extends AsyncIterable<WsMessage> {
  /** The upgrade request's context: `params`, `headers`, `cookies`, `state` (what middleware set), `log`. */
  readonly ctx: Context<P, S>;
  /**
   * Sends a message (a string as text, bytes as binary); false when the socket is closed and nothing was
   * sent. The send that leaves more than `maxBufferedBytes` waiting for the client closes the socket
   * with 1013 (try again later): a client that stops reading costs at most that much memory.
   */
  send(data: WsData): boolean;
  /** Starts the closing handshake (default 1000); the connection is cut if the client does not answer. */
  close(code?: number, reason?: string): void;
  /** Aborts when the socket closes, whatever the reason: stop the work that feeds it. */
  readonly signal: AbortSignal;
  /** True once the socket is closing or closed: `send()` then returns false. */
  readonly closed: boolean;
  /** Bytes sent that the connection has not taken yet. */
  readonly bufferedBytes: number;
  /** The subprotocol agreed in the handshake (see the `protocols` option), or `''`. */
  readonly protocol: string;
}

/**
 * A WebSocket route's handler, called once the handshake is done. Its return does not close the socket
 * (a socket that joined a room stays open); a throw or rejection closes it with 1011 and is logged.
 */
export type WsHandler<P extends string = string, S extends object = Record<never, never>> = (
  socket: WsSocket<P, S>,
  ctx: Context<P, S>,
) => unknown;
