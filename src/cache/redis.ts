/**
 * The Redis store (ioredis, loaded on first use). It never makes a caller wait for a Redis that is not
 * there: commands are not queued while the connection is down (the store answers "miss" at once), each
 * command has a timeout, and the client reconnects in the background with a capped backoff.
 */
import { randomUUID } from 'node:crypto';
import type { Redis as RedisClient, RedisOptions } from 'ioredis';
import { WeirError } from '../errors.ts';
import { loadPackage } from '../internal/load-package.ts';
import {
  type CacheStatus,
  decodeEntry,
  type Entry,
  encodeEntry,
  type LockResult,
  remaining,
  type Store,
} from './store.ts';

/** Connection settings of the Redis backend. */
export interface RedisStoreOptions {
  /** How long one command may take before the cache treats it as a miss. @default 500 */
  commandTimeoutMs?: number;
  /** How long `openCache()` waits for the first connection before it starts degraded. @default 2000 */
  connectTimeoutMs?: number;
}

/** Told when the connection comes or goes, with the error that took it away. */
export type StatusListener = (status: CacheStatus, reason: unknown) => void;

type RedisConstructor = new (url: string, options: RedisOptions) => RedisClient;

const UNLOCK =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/** Escapes Redis glob characters, so a prefix matches only itself. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function retryDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 6), 2000);
}

export class RedisStore implements Store {
  readonly #client: RedisClient;
  readonly #options: RedisOptions;
  #onStatus: StatusListener = () => undefined;
  readonly #subscribers: RedisClient[] = [];
  #status: CacheStatus = 'degraded';
  #lastError: unknown = undefined;
  #closed = false;

  private constructor(Redis: RedisConstructor, url: string, options: RedisOptions) {
    this.#options = options;
    this.#client = new Redis(url, options);
    this.#client.on('ready', () => this.#set('ready'));
    this.#client.on('error', (err: unknown) => {
      this.#lastError = err;
    });
    this.#client.on('close', () => this.#set('degraded'));
  }

  /**
   * Connects to `url`, waiting up to `connectTimeoutMs` for the first connection. A Redis that is not
   * there does not fail the open: the store starts degraded and keeps trying.
   */
  static async open(url: string, options: RedisStoreOptions, onStatus: StatusListener): Promise<RedisStore> {
    const Redis = await loadPackage<RedisConstructor>(
      'ioredis',
      'The Redis cache',
      (message, cause) => new WeirError('WEIR_ERR_CACHE_DRIVER_MISSING', message, { cause }),
    );
    const connectTimeout = options.connectTimeoutMs ?? 2000;
    const store = new RedisStore(Redis, url, {
      lazyConnect: true,
      // Fail a command at once while disconnected, instead of queueing it until Redis returns.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs ?? 500,
      connectTimeout,
      retryStrategy: retryDelay,
      enableAutoPipelining: true,
    });
    store.#onStatus = onStatus;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      store.#client.connect().catch(() => undefined),
      new Promise((resolve) => {
        timer = setTimeout(resolve, connectTimeout);
      }),
    ]);
    clearTimeout(timer);
    if (store.#status !== 'ready') onStatus('degraded', store.#lastError ?? new Error('no answer in time'));
    return store;
  }

  #set(status: CacheStatus): void {
    if (status === this.#status || this.#closed) return;
    this.#status = status;
    this.#onStatus(status, this.#lastError);
  }

  get status(): CacheStatus {
    return this.#status;
  }

  async get(key: string): Promise<Entry | undefined> {
    if (this.#status !== 'ready') return undefined;
    return decodeEntry(await this.#client.get(key));
  }

  async getMany(keys: readonly string[]): Promise<(Entry | undefined)[]> {
    if (this.#status !== 'ready' || keys.length === 0) return keys.map(() => undefined);
    const texts = await this.#client.mget(...keys);
    return texts.map(decodeEntry);
  }

  async set(key: string, entry: Entry): Promise<void> {
    if (this.#status !== 'ready') return;
    const ttl = remaining(entry.staleUntil, Date.now());
    if (ttl <= 0) await this.#client.unlink(key);
    else if (ttl === Number.POSITIVE_INFINITY) await this.#client.set(key, encodeEntry(entry));
    else await this.#client.set(key, encodeEntry(entry), 'PX', Math.ceil(ttl));
  }

  async add(key: string, entry: Entry): Promise<boolean> {
    if (this.#status !== 'ready') {
      throw new WeirError('WEIR_ERR_CACHE_UNAVAILABLE', 'Redis is not connected', { cause: this.#lastError });
    }
    const ttl = remaining(entry.staleUntil, Date.now());
    if (ttl <= 0) return false;
    const text = encodeEntry(entry);
    const ok =
      ttl === Number.POSITIVE_INFINITY
        ? await this.#client.set(key, text, 'NX')
        : await this.#client.set(key, text, 'PX', Math.ceil(ttl), 'NX');
    return ok === 'OK';
  }

  async delete(key: string): Promise<boolean> {
    if (this.#status !== 'ready') return false;
    return (await this.#client.unlink(key)) > 0;
  }

  async clear(prefix: string): Promise<void> {
    if (this.#status !== 'ready') return;
    const pattern = `${globEscape(prefix)}*`;
    let cursor = '0';
    do {
      const [next, keys] = await this.#client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await this.#client.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  }

  async lock(key: string, ttlMs: number): Promise<LockResult> {
    if (this.#status !== 'ready') return 'unavailable';
    const token = randomUUID();
    const ok = await this.#client.set(key, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return ok === 'OK' ? { token } : 'held';
  }

  async unlock(key: string, token: string): Promise<void> {
    if (this.#status !== 'ready') return;
    await this.#client.eval(UNLOCK, 1, key, token);
  }

  /** Publishes `message` on `channel`; false when Redis is not there to take it. */
  async publish(channel: string, message: string): Promise<boolean> {
    if (this.#status !== 'ready') return false;
    await this.#client.publish(channel, message);
    return true;
  }

  /**
   * Subscribes to `channel` on a connection of its own. `onReady` runs each time that connection is
   * (re)established: messages sent while it was down are lost, and the listener must assume so.
   */
  async subscribe(channel: string, onMessage: (message: string) => void, onReady: () => void): Promise<void> {
    const subscriber = this.#client.duplicate({ ...this.#options, enableOfflineQueue: true });
    this.#subscribers.push(subscriber);
    subscriber.on('error', () => undefined);
    subscriber.on('ready', onReady);
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) onMessage(message);
    });
    // Resolves when subscribed; while Redis is away, the subscription is queued and made on connect.
    const subscribed = subscriber.subscribe(channel).catch(() => undefined);
    await Promise.race([subscribed, new Promise((resolve) => setTimeout(resolve, 100).unref())]);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(
      [this.#client, ...this.#subscribers].map((client) =>
        client.status === 'ready' ? client.quit().catch(() => client.disconnect()) : client.disconnect(),
      ),
    );
  }
}
