/**
 * Rooms: named groups of sockets that a broadcast reaches, in this process (`memory:`) or in every
 * process that opened a hub on the same Redis (`redis://`, through pub/sub).
 *
 * - A broadcast is encoded once and framed per socket by `ws` without copying it; each socket takes it
 *   under its own `maxBufferedBytes` (a client that cannot keep up is closed with 1013), so a broadcast
 *   never waits for a slow reader.
 * - With Redis, a hub has one subscriber connection whatever its rooms and sockets: it subscribes to a
 *   room's channel when its first local socket joins and unsubscribes when the last leaves. A hub
 *   delivers its own broadcasts to its sockets at once and skips them when Redis echoes them back.
 * - A socket leaves its rooms when it closes.
 */
import { randomBytes } from 'node:crypto';
import type { Redis as RedisClient } from 'ioredis';
import { type ErrorCode, httpError, invalidOption, WeirError } from '../errors.ts';
import { loadPackage } from '../internal/load-package.ts';
import { defaultLogger, type Logger } from '../internal/logger.ts';
import { redactUrl } from '../internal/url.ts';
import { kSendShared, type ServerSocket } from './socket.ts';
import type { WsSocket } from './types.ts';

/** Options of {@link rooms}. */
export interface RoomsOptions {
  /** `memory:` (this process only, the default) or `redis://…` / `rediss://…` (every process). */
  url?: string;
  /** Prefix of the Redis channels, so that several apps can share one Redis. @default 'weir:ws:' */
  prefix?: string;
  /** Rooms one socket may be in at once; a join past it throws. @default 64 */
  maxRoomsPerSocket?: number;
  /** How long opening the hub waits for Redis. @default 5000 */
  connectTimeoutMs?: number;
  /** Where a failed (re)subscription is reported. @default weir's default logger */
  logger?: Logger;
}

/** A set of rooms; see {@link rooms}. */
export interface Hub {
  /** `memory:` or the Redis URL without its password. */
  readonly url: string;
  /** Adds `socket` to `room` (a string of 1 to 256 characters); it leaves when it closes. */
  join(socket: WsSocket<string, object>, room: string): void;
  /** Removes `socket` from `room`. */
  leave(socket: WsSocket<string, object>, room: string): void;
  /**
   * Sends `data` to every socket in `room`, in every process on the hub's Redis: a string as text, bytes
   * as binary, anything else as JSON text (encoded once). Resolves once it is handed to Redis.
   * @throws WEIR_ERR_WS_ROOMS_UNAVAILABLE when Redis refuses it (this process's sockets have it already).
   */
  broadcast(room: string, data: unknown): Promise<void>;
  /** Sockets of this process in `room`. */
  size(room: string): number;
  /** Leaves every room and closes the hub's Redis connections. Idempotent. */
  close(): Promise<void>;
}

const TEXT = 0x74; // "t"
const BINARY = 0x62; // "b"
const ID_BYTES = 8;

type RedisConstructor = new (url: string, options: Record<string, unknown>) => RedisClient;

function roomsError(code: ErrorCode, message: string, cause?: unknown): WeirError {
  return new WeirError(code, message, { cause });
}

function checkRoom(room: unknown): asserts room is string {
  if (typeof room !== 'string' || room.length === 0 || room.length > 256) {
    throw invalidOption('room', 'a string of 1 to 256 characters', room);
  }
}

function encode(data: unknown): { bytes: Buffer; text: boolean } {
  if (typeof data === 'string') return { bytes: Buffer.from(data), text: true };
  if (data instanceof Uint8Array)
    return { bytes: Buffer.from(data.buffer, data.byteOffset, data.byteLength), text: false };
  const json = JSON.stringify(data);
  if (json === undefined) throw invalidOption('broadcast() data', 'a string, bytes or a JSON value', data);
  return { bytes: Buffer.from(json), text: true };
}

class RoomHub implements Hub {
  readonly url: string;
  readonly #rooms = new Map<string, Set<ServerSocket>>();
  readonly #joined = new Map<ServerSocket, Set<string>>();
  readonly #maxRooms: number;
  readonly #prefix: string;
  readonly #id = randomBytes(ID_BYTES);
  readonly #pub: RedisClient | undefined;
  readonly #sub: RedisClient | undefined;
  readonly #log: Logger;
  #closed = false;

  constructor(url: string, options: RoomsOptions, pub?: RedisClient, sub?: RedisClient) {
    this.url = url;
    this.#maxRooms = options.maxRoomsPerSocket ?? 64;
    this.#prefix = options.prefix ?? 'weir:ws:';
    this.#pub = pub;
    this.#sub = sub;
    this.#log = options.logger ?? defaultLogger();
    sub?.on('messageBuffer', this.#onRemote);
  }

  join(socket: WsSocket<string, object>, room: string): void {
    checkRoom(room);
    if (this.#closed) throw roomsError('WEIR_ERR_WS_ROOMS_UNAVAILABLE', 'The rooms hub is closed');
    const s = socket as unknown as ServerSocket;
    if (typeof s[kSendShared] !== 'function')
      throw invalidOption('join() socket', 'a socket from app.ws()', socket);
    if (s.closed) return;
    let mine = this.#joined.get(s);
    if (mine === undefined) {
      mine = new Set();
      this.#joined.set(s, mine);
      s.signal.addEventListener('abort', () => this.#forget(s), { once: true });
    }
    if (mine.has(room)) return;
    if (mine.size >= this.#maxRooms) {
      throw invalidOption(
        'join() room',
        `at most ${this.#maxRooms} rooms per socket (maxRoomsPerSocket)`,
        room,
      );
    }
    mine.add(room);
    let members = this.#rooms.get(room);
    if (members === undefined) {
      members = new Set();
      this.#rooms.set(room, members);
      this.#sub?.subscribe(this.#prefix + room).catch(this.#logFailure);
    }
    members.add(s);
  }

  leave(socket: WsSocket<string, object>, room: string): void {
    const s = socket as unknown as ServerSocket;
    const mine = this.#joined.get(s);
    if (mine === undefined || !mine.delete(room)) return;
    if (mine.size === 0) this.#joined.delete(s);
    this.#drop(s, room);
  }

  async broadcast(room: string, data: unknown): Promise<void> {
    checkRoom(room);
    if (this.#closed) throw roomsError('WEIR_ERR_WS_ROOMS_UNAVAILABLE', 'The rooms hub is closed');
    const { bytes, text } = encode(data);
    this.#deliver(room, bytes, text);
    if (this.#pub === undefined) return;
    const message = Buffer.allocUnsafe(1 + ID_BYTES + bytes.length);
    message[0] = text ? TEXT : BINARY;
    this.#id.copy(message, 1);
    bytes.copy(message, 1 + ID_BYTES);
    try {
      await this.#pub.publish(this.#prefix + room, message);
    } catch (err) {
      throw httpError(
        'WEIR_ERR_WS_ROOMS_UNAVAILABLE',
        `The broadcast to room ${JSON.stringify(room.slice(0, 64))} could not reach Redis`,
        undefined,
        { cause: err },
      );
    }
  }

  size(room: string): number {
    return this.#rooms.get(room)?.size ?? 0;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#rooms.clear();
    this.#joined.clear();
    await Promise.all([this.#pub, this.#sub].map((c) => c?.quit().catch(() => c.disconnect())));
  }

  #deliver(room: string, bytes: Buffer, text: boolean): void {
    const members = this.#rooms.get(room);
    if (members === undefined) return;
    // A socket the send closes (too slow) leaves the set in its abort listener: iterate a copy.
    for (const socket of [...members]) socket[kSendShared](bytes, text);
  }

  readonly #onRemote = (channel: Buffer, message: Buffer): void => {
    if (message.length < 1 + ID_BYTES || message.subarray(1, 1 + ID_BYTES).equals(this.#id)) return;
    const room = channel.toString().slice(this.#prefix.length);
    this.#deliver(room, message.subarray(1 + ID_BYTES), message[0] === TEXT);
  };

  readonly #logFailure = (err: unknown): void => {
    if (!this.#closed) this.#log.warn({ err, url: this.url }, 'the rooms hub could not (un)subscribe a room');
  };

  #forget(socket: ServerSocket): void {
    const mine = this.#joined.get(socket);
    if (mine === undefined) return;
    this.#joined.delete(socket);
    for (const room of mine) this.#drop(socket, room);
  }

  #drop(socket: ServerSocket, room: string): void {
    const members = this.#rooms.get(room);
    if (members === undefined) return;
    members.delete(socket);
    if (members.size === 0) {
      this.#rooms.delete(room);
      if (!this.#closed) this.#sub?.unsubscribe(this.#prefix + room).catch(this.#logFailure);
    }
  }
}

/**
 * Opens a hub of rooms: in this process with `memory:` (the default), across processes with a Redis URL.
 * @example
 * const hub = await rooms({ url: process.env.REDIS_URL });
 * app.ws('/rooms/:room', (socket, ctx) => hub.join(socket, ctx.params.room));
 * app.post('/rooms/:room', async (ctx) => { await hub.broadcast(ctx.params.room, await ctx.json()); });
 * app.onStop(() => hub.close());
 * @throws WEIR_ERR_WS_ROOMS_URL for an unknown scheme, WEIR_ERR_WS_ROOMS_UNAVAILABLE when Redis cannot
 *   be reached, WEIR_ERR_WS_ROOMS_DRIVER_MISSING without `ioredis`.
 */
export async function rooms(options: RoomsOptions = {}): Promise<Hub> {
  const url = options.url ?? 'memory:';
  if (
    options.maxRoomsPerSocket !== undefined &&
    (!Number.isSafeInteger(options.maxRoomsPerSocket) || options.maxRoomsPerSocket < 1)
  ) {
    throw invalidOption('rooms() maxRoomsPerSocket', 'a positive integer', options.maxRoomsPerSocket);
  }
  if (options.prefix !== undefined && (typeof options.prefix !== 'string' || options.prefix.length > 128)) {
    throw invalidOption('rooms() prefix', 'a string of at most 128 characters', options.prefix);
  }
  const timeout = options.connectTimeoutMs;
  if (timeout !== undefined && (!Number.isSafeInteger(timeout) || timeout < 1 || timeout > 2_147_483_647)) {
    throw invalidOption('rooms() connectTimeoutMs', 'a positive integer number of ms', timeout);
  }
  if (url === 'memory:') return new RoomHub(url, options);
  if (!/^rediss?:\/\//.test(url)) {
    throw roomsError(
      'WEIR_ERR_WS_ROOMS_URL',
      `rooms() url must be memory:, redis:// or rediss://, not ${JSON.stringify(redactUrl(url))}`,
    );
  }
  const Redis = await loadPackage<RedisConstructor>(
    'ioredis',
    'rooms() with a redis:// URL',
    (message, cause) => roomsError('WEIR_ERR_WS_ROOMS_DRIVER_MISSING', message, cause),
  );
  const connectTimeout = options.connectTimeoutMs ?? 5000;
  const settings = {
    lazyConnect: true,
    connectTimeout,
    maxRetriesPerRequest: 1,
    retryStrategy: (n: number) => Math.min(50 * 2 ** Math.min(n, 6), 2000),
  };
  const pub = new Redis(url, settings);
  const sub = new Redis(url, settings);
  // Reconnection is ioredis's (it resubscribes); an error event without a listener would crash.
  for (const client of [pub, sub]) client.on('error', () => {});
  try {
    await Promise.all([pub.connect(), sub.connect()]);
  } catch (err) {
    pub.disconnect();
    sub.disconnect();
    throw roomsError('WEIR_ERR_WS_ROOMS_UNAVAILABLE', `rooms() cannot reach Redis at ${redactUrl(url)}`, err);
  }
  return new RoomHub(redactUrl(url), options, pub, sub);
}
