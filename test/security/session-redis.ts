/**
 * What the Redis session store tests share: removing the prefixes a run used, and a TCP proxy between a
 * store and Redis that can stop forwarding (Redis "hangs") or go away (Redis "is down").
 */
import { createServer, connect as netConnect, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { REDIS_URL } from '../helpers/services.ts';

/** Deletes every key under each prefix (matched literally). */
export async function removePrefixes(prefixes: readonly string[]): Promise<void> {
  const client = new Redis(REDIS_URL, { lazyConnect: true });
  await client.connect();
  try {
    for (const prefix of prefixes) {
      const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        if (keys.length > 0) await client.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    client.disconnect();
  }
}

export interface RedisProxy {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` (with `auth` as user info, if given). */
  url(auth?: string): string;
  /** Stops forwarding on the open connections, leaving them open: commands get no answer. */
  freeze(): void;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/** A proxy to the test Redis on `port` (0: any free one). */
export async function redisProxy(port = 0): Promise<RedisProxy> {
  const target = new URL(REDIS_URL);
  const pairs = new Set<[Socket, Socket]>();
  const server = createServer((client) => {
    const upstream = netConnect(Number(target.port || 6379), target.hostname);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    for (const socket of pair) {
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as { port: number }).port;
  return {
    port: bound,
    url: (auth) => `redis://${auth === undefined ? '' : `${auth}@`}127.0.0.1:${bound}`,
    freeze() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [client, upstream] of pairs) {
        client.destroy();
        upstream.destroy();
      }
      return closed;
    },
  };
}
