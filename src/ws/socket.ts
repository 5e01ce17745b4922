/**
 * One open WebSocket on weir's side, from the handshake to its close.
 *
 * Guarantees:
 * - memory per socket is bounded both ways: what the client has not taken stays below
 *   `maxBufferedBytes` plus one message (the send past it closes the socket with 1013, and `ws` cuts
 *   the connection if the close is not answered within `closeTimeoutMs`); what it sent and the handler
 *   has not read stays below `maxQueuedMessages` messages of at most `maxMessageBytes` each (past it the
 *   connection is not read until the handler catches up);
 * - a client that answers no ping for a whole `pingIntervalMs` is cut (not while weir itself has
 *   stopped reading it: its pong may wait behind messages the handler has not taken);
 * - every way a socket ends goes through one transition, `#finish`, which runs once: timers stop,
 *   `signal` aborts, a pending read ends, the drain forgets the socket, `weir:ws` hears of it.
 */
import { channel } from 'node:diagnostics_channel';
import type { AppRuntime } from '../http/app-runtime.ts';
import type { Context } from '../http/context.ts';
import type { WsRoute } from '../http/ws-route.ts';
import type { WsCloseReason, WsData, WsMessage, WsSocket } from './types.ts';

/**
 * `weir:ws`: `{ type: 'open', socket, path }` when a handshake completes and
 * `{ type: 'close', socket, path, code, reason }` when the socket closes (`code` as the close frame
 * said, 1006 when none came; `reason` a {@link WsCloseReason}), for counting sockets and dropped clients.
 */
export const wsChannel = channel('weir:ws');

/**
 * Sends `bytes`, encoded once for many sockets, as one frame (rooms' broadcast). Internal; registered
 * (`Symbol.for`) so that a hub and sockets from two copies of weir still work together.
 */
export const kSendShared = Symbol.for('weir.ws.send-shared');

const DONE: IteratorResult<WsMessage> = Object.freeze({ value: undefined, done: true });
const TEXT = Object.freeze({ binary: false });
const BINARY = Object.freeze({ binary: true });

/**
 * What a socket uses of `ws`'s WebSocket, spelt out so that weir's published types need no `@types/ws`
 * (`ws` ships none).
 */
export interface WsPeer {
  readonly bufferedAmount: number;
  readonly isPaused: boolean;
  readonly protocol: string;
  send(data: string | Uint8Array, options: { binary: boolean }): void;
  close(code: number, reason: string): void;
  terminate(): void;
  ping(): void;
  pause(): void;
  resume(): void;
  on(event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], binary: boolean) => void): this;
  on(event: 'pong', listener: () => void): this;
  on(event: 'error', listener: (err: Error & { code?: string }) => void): this;
  once(event: 'close', listener: (code: number, reason: Buffer) => void): this;
}

export class ServerSocket<P extends string = string, S extends object = Record<never, never>>
  implements WsSocket<P, S>
{
  readonly ctx: Context<P, S>;
  readonly #ws: WsPeer;
  readonly #route: WsRoute;
  readonly #runtime: AppRuntime;
  readonly #queue: WsMessage[] = [];
  #waiting: ((result: IteratorResult<WsMessage>) => void) | undefined;
  #alive = true;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  #done = false;
  #reason: WsCloseReason | undefined;

  constructor(ws: WsPeer, ctx: Context<P, S>, route: WsRoute, runtime: AppRuntime) {
    this.ctx = ctx;
    this.#ws = ws;
    this.#route = route;
    this.#runtime = runtime;
    ws.on('message', this.#onMessage);
    ws.on('pong', this.#onPong);
    ws.on('error', this.#onError);
    ws.once('close', this.#onClose);
    runtime.streams.add(this.#onShutdown);
    const every = route.settings.pingIntervalMs;
    if (every > 0) {
      this.#timer = setInterval(this.#ping, every);
      this.#timer.unref();
    }
    if (wsChannel.hasSubscribers) wsChannel.publish({ type: 'open', socket: this, path: ctx.path });
  }

  get signal(): AbortSignal {
    return this.ctx.signal;
  }

  get closed(): boolean {
    return this.#closing || this.#done;
  }

  get bufferedBytes(): number {
    return this.#ws.bufferedAmount;
  }

  get protocol(): string {
    return this.#ws.protocol;
  }

  send(data: WsData): boolean {
    if (this.closed) return false;
    if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
      throw new TypeError(`send() takes a string or a Uint8Array, not ${typeof data}`);
    }
    // A string is encoded here: ws would write it as a string, and a write of mixed strings and buffers
    // takes Node's slow writev path (measured: about a third more CPU per echoed message).
    if (typeof data === 'string') this.#ws.send(Buffer.from(data), TEXT);
    else this.#ws.send(data, BINARY);
    this.#checkBuffer();
    return true;
  }

  [kSendShared](bytes: Buffer, text: boolean): boolean {
    if (this.closed) return false;
    this.#ws.send(bytes, text ? TEXT : BINARY);
    this.#checkBuffer();
    return true;
  }

  close(code = 1000, reason = ''): void {
    if (this.closed) return;
    this.#closeWith('server', code, reason);
  }

  [Symbol.asyncIterator](): AsyncIterator<WsMessage> {
    return {
      next: () => {
        const message = this.#queue.shift();
        if (message !== undefined) {
          if (this.#ws.isPaused && this.#queue.length < this.#route.settings.maxQueuedMessages) {
            this.#ws.resume();
          }
          return Promise.resolve({ value: message, done: false });
        }
        if (this.#done || this.#waiting !== undefined) return Promise.resolve(DONE);
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
      // Leaving the loop early leaves the socket open; queued messages wait for the next loop.
      return: () => {
        const waiting = this.#waiting;
        this.#waiting = undefined;
        waiting?.(DONE);
        return Promise.resolve(DONE);
      },
    };
  }

  /** Runs the route's handler; a throw or rejection closes the socket with 1011. */
  run(): void {
    const fail = (err: unknown): void => {
      this.#runtime.log.error({ err, path: this.ctx.path }, 'a WebSocket handler failed');
      if (!this.closed) this.#closeWith('error', 1011, 'Internal error');
    };
    try {
      const result = this.#route.handler(this as unknown as WsSocket, this.ctx as unknown as Context);
      if (typeof (result as Promise<unknown> | undefined)?.then === 'function')
        (result as Promise<unknown>).then(undefined, fail);
    } catch (err) {
      fail(err);
    }
  }

  #closeWith(reason: WsCloseReason, code: number, text: string): void {
    this.#reason ??= reason;
    this.#closing = true;
    // ws cuts the connection when the client does not answer within closeTimeoutMs (its closeTimeout).
    this.#ws.close(code, text);
  }

  #checkBuffer(): void {
    if (this.#ws.bufferedAmount > this.#route.settings.maxBufferedBytes) {
      this.#closeWith('slow', 1013, 'Too slow: the client fell too far behind');
    }
  }

  readonly #onMessage = (data: Buffer | ArrayBuffer | Buffer[], binary: boolean): void => {
    this.#alive = true;
    const bytes = Array.isArray(data)
      ? Buffer.concat(data)
      : Buffer.isBuffer(data)
        ? data
        : Buffer.from(data);
    const message = binary ? bytes : bytes.toString();
    const waiting = this.#waiting;
    if (waiting !== undefined) {
      this.#waiting = undefined;
      waiting({ value: message, done: false });
      return;
    }
    this.#queue.push(message);
    if (this.#queue.length >= this.#route.settings.maxQueuedMessages) this.#ws.pause();
  };

  readonly #onPong = (): void => {
    this.#alive = true;
  };

  readonly #ping = (): void => {
    // Paused by weir, the connection's pongs wait unread behind messages: no verdict then.
    if (this.#ws.isPaused) return;
    if (!this.#alive) {
      this.#reason ??= 'dead';
      this.#ws.terminate();
      return;
    }
    this.#alive = false;
    this.#ws.ping();
  };

  readonly #onError = (err: Error & { code?: string }): void => {
    // ws closes the socket itself after an error (1009 for a message over maxPayload, 1002, 1007).
    this.#reason ??= err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'too-large' : 'error';
    this.#runtime.log.debug({ err, path: this.ctx.path }, 'WebSocket protocol error');
  };

  readonly #onShutdown = (): void => {
    if (!this.closed) this.#closeWith('shutdown', 1001, 'The server is shutting down');
  };

  readonly #onClose = (code: number, reason: Buffer): void => {
    if (this.#done) return;
    this.#done = true;
    this.#closing = true;
    clearInterval(this.#timer);
    this.#runtime.streams.delete(this.#onShutdown);
    this.#route.open--;
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.(DONE);
    const why = this.#reason ?? 'client';
    this.ctx.abort(new DOMException(`The WebSocket closed (${why})`, 'AbortError'));
    if (wsChannel.hasSubscribers) {
      wsChannel.publish({
        type: 'close',
        socket: this,
        path: this.ctx.path,
        code,
        reason: why,
        text: reason.toString(),
      });
    }
  };
}
