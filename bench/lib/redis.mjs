// The runner's own Redis connection, beside the servers it measures: INFO for the server's version and the
// commands it has run, SCAN + UNLINK for the keys a run leaves behind. ioredis comes from the repo root's
// node_modules and is loaded on first use, so a run that needs no Redis never connects.

/** `url` with its credentials shown as `***`, for a report. */
export const hideCredentials = (url) => url.replace(/\/\/[^@]*@/, '//***@');

/**
 * The runner's connection to the Redis at `url`, opened on first use: { client() (resolves to the ioredis
 * client), version(), commands(), unlinkKeys(pattern), disconnect() }.
 */
export function runnerRedis(url) {
  let client;
  async function connect() {
    if (client === undefined) {
      const { Redis } = await import('ioredis');
      client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 3000 });
      client.on('error', () => {}); // a failed command rejects; the event alone must not crash the runner
      await client.connect();
    }
    return client;
  }
  return {
    client: connect,
    /** redis_version from INFO, or '?'. */
    version: async () => /redis_version:(\S+)/.exec(await (await connect()).info('server'))?.[1] ?? '?',
    /** Redis's total_commands_processed (every client's, this runner's INFO included). */
    async commands() {
      const info = await (await connect()).info('stats');
      return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
    },
    /** Unlinks every key matching `pattern` (SCAN, bounded); resolves to how many there were. */
    async unlinkKeys(pattern) {
      const c = await connect();
      let cursor = '0';
      let seen = 0;
      for (let i = 0; i < 100_000; i++) {
        const [next, keys] = await c.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        seen += keys.length;
        if (keys.length > 0) await c.unlink(...keys);
        cursor = next;
        if (cursor === '0') return seen;
      }
      throw new Error(`SCAN MATCH ${pattern} did not finish within 100,000 calls`);
    },
    /** Closes the connection, if it was opened. */
    disconnect: () => client?.disconnect(),
  };
}
