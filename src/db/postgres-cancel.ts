/**
 * Cancelling a running PostgreSQL query from outside its connection: the protocol's CancelRequest (a
 * 16-byte packet on a new socket naming the backend's pid and secret key), or, over TLS, where that packet
 * would need its own handshake, `pg_cancel_backend()` on a fresh connection.
 *
 * Output: a promise that never rejects, resolving to whether the connection can be trusted with another
 * query: `true` when the request is done, or was never delivered (the target refused it); `false` when it
 * did not finish within `timeoutMs`: it may still arrive later and hit the next query, so the caller
 * destroys the connection instead of reusing it.
 */
import { connect as netConnect } from 'node:net';
import type * as Pg from 'pg';

interface BackendKey {
  processID: number;
  secretKey: number;
  host: string;
  port: number;
  ssl: unknown;
}

/** The socket under a pg client, for the cases where it must be cut now rather than ended politely. */
export function destroyConnection(client: Pg.ClientBase): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}

export function cancelQuery(
  pg: typeof Pg,
  connectionString: string,
  client: Pg.ClientBase,
  timeoutMs: number,
): Promise<boolean> {
  const key = client as unknown as BackendKey;
  if (key.ssl) return cancelOverSql(pg, connectionString, key.processID, timeoutMs);
  return new Promise<boolean>((resolve) => {
    const socket = key.host.startsWith('/')
      ? netConnect(`${key.host}/.s.PGSQL.${key.port}`)
      : netConnect(key.port, key.host);
    let connected = false;
    const finish = (clean: boolean): void => {
      clearTimeout(timer);
      resolve(clean);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      finish(false);
    }, timeoutMs);
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4); // the CancelRequest code: 1234 << 16 | 5678
    packet.writeInt32BE(key.processID, 8);
    packet.writeInt32BE(key.secretKey, 12);
    socket.on('connect', () => {
      connected = true;
      socket.end(packet);
    });
    // Refused before connecting: nothing was delivered. Failed after: it may have been.
    socket.on('error', () => finish(!connected));
    socket.on('close', (hadError) => {
      if (!hadError) finish(true);
    });
  });
}

function cancelOverSql(
  pg: typeof Pg,
  connectionString: string,
  pid: number,
  timeoutMs: number,
): Promise<boolean> {
  const other = new pg.Client({ connectionString });
  // A cut connection emits 'error' on the client; unheard, that would crash the process.
  other.on('error', () => {});
  const work = (async () => {
    try {
      await other.connect();
      await other.query('SELECT pg_cancel_backend($1)', [pid]);
      return true;
    } catch {
      // Not connected: nothing was delivered. Refused by the server: the cancel did not run either.
      return true;
    } finally {
      other.end().catch(() => {});
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => {
      destroyConnection(other);
      resolve(false);
    }, timeoutMs);
  });
  return Promise.race([work, expired]).then((clean) => {
    clearTimeout(timer);
    return clean;
  });
}
