/**
 * Cancelling a running PostgreSQL query from outside its connection: the protocol's CancelRequest (a
 * 16-byte packet on a new socket naming the backend's pid and secret key), or, over TLS, where that packet
 * would need its own handshake, `pg_cancel_backend()` on a fresh connection. Either way the promise
 * resolves when the request is done, never rejects: the query ends on its own if the cancel fails.
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

export function cancelQuery(pg: typeof Pg, pool: Pg.Pool, client: Pg.PoolClient): Promise<void> {
  const key = client as unknown as BackendKey;
  if (key.ssl) return cancelOverSql(pg, pool, key.processID);
  return new Promise<void>((resolve) => {
    const socket = key.host.startsWith('/')
      ? netConnect(`${key.host}/.s.PGSQL.${key.port}`)
      : netConnect(key.port, key.host);
    const packet = Buffer.alloc(16);
    packet.writeInt32BE(16, 0);
    packet.writeInt32BE(80877102, 4); // the CancelRequest code: 1234 << 16 | 5678
    packet.writeInt32BE(key.processID, 8);
    packet.writeInt32BE(key.secretKey, 12);
    socket.on('connect', () => socket.end(packet));
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    socket.setTimeout(5000, () => socket.destroy());
  });
}

async function cancelOverSql(pg: typeof Pg, pool: Pg.Pool, pid: number): Promise<void> {
  const { connectionString } = (pool as unknown as { options: { connectionString: string } }).options;
  const other = new pg.Client({ connectionString });
  try {
    await other.connect();
    await other.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // The query finishes on its own; the caller has its rejection already.
  } finally {
    await other.end().catch(() => {});
  }
}
