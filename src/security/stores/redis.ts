/**
 * The Redis session store (ioredis, loaded on first use). Unlike the cache, which treats a Redis that is
 * away as a miss, a session store must never answer "no session" for a Redis it cannot reach: that would
 * log users out, or let a guard treat them as anonymous. So nothing is queued while the connection is
 * down (a command fails at once), each command has a timeout, and every failure rejects with
 * `WEIR_ERR_SESSION_STORE`. The client reconnects in the background with a capped backoff.
 *
 * Layout: one string per session under `<prefix><key>`, holding
 * `{"expiresAt":E,"createdAt":C,"data":"…"}` (expiresAt first: the touch script relies on it), with a
 * Redis expiry at `expiresAt` (PXAT: Redis 6.2 or later).
 */
import type { Redis as RedisClient } from 'ioredis';
import { invalidOption } from '../../errors.ts';
import { redactUrl } from '../../internal/url.ts';
import { strictRedisClient } from '../redis-client.ts';
import { checkRecord, checkTime, closedError, integerOption, sessionStoreError } from './errors.ts';
import type { SessionRecord, SessionStore } from './store.ts';

/** Connection settings of the Redis store. */
export interface RedisSessionStoreOptions {
  /** Put before every key, so that sessions share a Redis database with other data. @default 'weir:session:' */
  prefix?: string;
  /** How long one command may take before it rejects with `WEIR_ERR_SESSION_STORE`. @default 1000 */
  commandTimeoutMs?: number;
  /** How long opening waits for the first connection before it rejects. @default 2000 */
  connectTimeoutMs?: number;
}

/** The client with the touch script defined on it. */
interface SessionClient extends RedisClient {
  weirSessionTouch(key: string, expiresAt: string, expireAt: string): Promise<number>;
}

/**
 * The key's expiry, in epoch ms, as Redis's PXAT takes it. Redis drops a key once its clock is past this
 * time, and get() treats a record as gone once this process's clock reaches expiresAt: one ms earlier,
 * so both agree on one clock. A time from now (PX) would keep the key longer by the command's trip, and
 * size() would count records get() no longer returns. Redis on another host judges by its own clock: a
 * skew between the two moves the key's end by as much (ms with NTP; get() still judges by this one).
 */
function expireAt(expiresAt: number): number {
  return expiresAt - 1;
}

/**
 * KEYS[1]: a session key. ARGV[1]: the new expiresAt (epoch ms). ARGV[2]: the key's expiry (PXAT).
 * Rewrites the record's expiresAt and the key's expiry in one step. A key that is not there stays
 * absent (a touch never brings back a session deleted or expired meanwhile), and a set() that lands
 * between the read and the write cannot be overwritten, since a script runs alone.
 * Returns 1 when it touched, 0 when there was nothing; an error when the value is not a record.
 */
const TOUCH = `
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
local rest = string.match(value, '^{"expiresAt":%-?%d+(,.*)$')
if not rest then return redis.error_reply('ERR the value is not a weir session record') end
redis.call('SET', KEYS[1], '{"expiresAt":' .. ARGV[1] .. rest, 'PXAT', ARGV[2])
return 1`;

/** Escapes Redis glob characters, so a prefix matches only itself in SCAN. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

function encode(record: SessionRecord): string {
  return `{"expiresAt":${record.expiresAt},"createdAt":${record.createdAt},"data":${JSON.stringify(record.data)}}`;
}

function decode(text: string): SessionRecord | undefined {
  try {
    const { data, createdAt, expiresAt } = JSON.parse(text) as Record<string, unknown>;
    if (typeof data !== 'string' || typeof createdAt !== 'number' || typeof expiresAt !== 'number') {
      return undefined;
    }
    return { data, createdAt, expiresAt };
  } catch {
    return undefined;
  }
}

/**
 * ioredis puts the command and its arguments (the key, the record) on a reply error as `command`: kept,
 * but non-enumerable, so that a logged error shows neither.
 */
function hideCommand(err: unknown): unknown {
  if (typeof err === 'object' && err !== null && Object.hasOwn(err, 'command')) {
    const value = (err as { command: unknown }).command;
    Object.defineProperty(err, 'command', { value, enumerable: false, configurable: true, writable: true });
  }
  return err;
}

function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Sessions in Redis, shared by every process that opens the same URL and prefix. */
export class RedisSessionStore implements SessionStore {
  readonly backend = 'redis';
  readonly url: string;
  readonly #client: SessionClient;
  readonly #prefix: string;
  readonly #name: string;
  #closed = false;

  private constructor(client: RedisClient, url: string, prefix: string) {
    this.url = url;
    this.#client = client as SessionClient;
    this.#prefix = prefix;
    this.#name = `the Redis session store at ${url}`;
    this.#client.defineCommand('weirSessionTouch', { numberOfKeys: 1, lua: TOUCH });
  }

  /**
   * Connects to `url` (`redis://…`, or `rediss://…` for TLS) and waits for the first connection.
   * @throws `WEIR_ERR_INVALID_OPTION` for a bad option (before connecting); `WEIR_ERR_SESSION_STORE` when
   *   Redis does not answer within `connectTimeoutMs`, or `ioredis` is not installed.
   */
  static async open(url: string, options: RedisSessionStoreOptions = {}): Promise<RedisSessionStore> {
    const prefix = options.prefix ?? 'weir:session:';
    if (typeof prefix !== 'string' || prefix === '') {
      throw invalidOption('Session store prefix', 'a non-empty string', prefix);
    }
    const commandTimeout = integerOption('Session store commandTimeoutMs', options.commandTimeoutMs, 1000, 1);
    const connectTimeout = integerOption('Session store connectTimeoutMs', options.connectTimeoutMs, 2000, 1);
    const shown = redactUrl(url);
    const client = await strictRedisClient(
      url,
      { commandTimeout, connectTimeout },
      'The Redis session store',
      (message, cause) => sessionStoreError(`the Redis session store at ${shown}`, 'start', message, cause),
    );
    // ioredis emits 'error' on each failed (re)connection: kept as the reason, never unhandled.
    let lastError: unknown;
    client.on('error', (err: unknown) => {
      lastError = err;
    });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        client.connect(),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer within ${connectTimeout} ms`)),
            connectTimeout,
          );
        }),
      ]);
    } catch (err) {
      client.disconnect();
      const cause = lastError ?? err;
      throw sessionStoreError(`the Redis session store at ${shown}`, 'connect', reasonOf(cause), cause);
    } finally {
      clearTimeout(timer);
    }
    return new RedisSessionStore(client, shown, prefix);
  }

  async get(key: string): Promise<SessionRecord | undefined> {
    const text = await this.#run('read a session', () => this.#client.get(this.#prefix + key));
    if (text === null) return undefined;
    const record = decode(text);
    if (record === undefined) {
      throw sessionStoreError(
        this.#name,
        'read a session',
        'the value under the key is not a session record',
      );
    }
    // Redis drops the key at its expiry on its own clock; this process's clock decides here too.
    return record.expiresAt > Date.now() ? record : undefined;
  }

  async set(key: string, record: SessionRecord): Promise<void> {
    checkRecord(record);
    const ended = record.expiresAt <= Date.now();
    const redisKey = this.#prefix + key;
    await this.#run(
      'write a session',
      (): Promise<unknown> =>
        ended
          ? this.#client.unlink(redisKey)
          : this.#client.set(redisKey, encode(record), 'PXAT', expireAt(record.expiresAt)),
    );
  }

  async replace(key: string, record: SessionRecord): Promise<boolean> {
    checkRecord(record);
    const ended = record.expiresAt <= Date.now();
    const redisKey = this.#prefix + key;
    // XX: only a key that is there; one command, so a delete cannot slip between a check and the write.
    if (ended) return (await this.#run('write a session', () => this.#client.unlink(redisKey))) > 0;
    const done = await this.#run('write a session', () =>
      this.#client.set(redisKey, encode(record), 'PXAT', expireAt(record.expiresAt), 'XX'),
    );
    return done === 'OK';
  }

  async touch(key: string, expiresAt: number): Promise<void> {
    checkTime('Session expiresAt', expiresAt);
    const ended = expiresAt <= Date.now();
    const redisKey = this.#prefix + key;
    await this.#run('touch a session', () =>
      ended
        ? this.#client.unlink(redisKey)
        : this.#client.weirSessionTouch(redisKey, String(expiresAt), String(expireAt(expiresAt))),
    );
  }

  async delete(key: string): Promise<void> {
    await this.#run('delete a session', () => this.#client.unlink(this.#prefix + key));
  }

  /**
   * The keys under the prefix, counted with SCAN: 1000 keys a step, each step a command of its own (with
   * its own timeout), so Redis is never blocked; but the walk visits the whole Redis database, so the
   * cost grows with every key in it. A key may be counted twice if Redis rehashes during the walk.
   * For monitoring, not for a request's path.
   */
  async size(): Promise<number> {
    const pattern = `${globEscape(this.#prefix)}*`;
    return this.#run('count sessions', async () => {
      let count = 0;
      let cursor = '0';
      do {
        const [next, keys] = await this.#client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        count += keys.length;
        cursor = next;
      } while (cursor !== '0');
      return count;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const client = this.#client;
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  }

  async #run<T>(operation: string, command: () => Promise<T>): Promise<T> {
    if (this.#closed) throw closedError(this.#name, operation);
    try {
      return await command();
    } catch (err) {
      throw sessionStoreError(this.#name, operation, reasonOf(err), hideCommand(err));
    }
  }
}
