// node:http + pg (node-postgres) WITHOUT pg.Pool: DB_POOL plain pg.Client connections, queries spread over
// them round-robin. A pg.Client queues queries itself and runs one at a time, so this is a pool without the
// acquire/release bookkeeping: the difference from node-pg is what pg.Pool costs.
import pg from 'pg';
import { db, SELECT_WORLD, serve } from './db-http.mjs';

const clients = await Promise.all(
  Array.from({ length: db.poolSize }, async () => {
    const client = new pg.Client({ host: db.host, port: db.port, user: db.user, database: db.database });
    await client.connect();
    return client;
  }),
);

let next = 0;
const findWorld = (id) => {
  const client = clients[next];
  next = (next + 1) % clients.length;
  return client.query({ name: 'world', text: SELECT_WORLD, values: [id] }).then((result) => result.rows[0]);
};

serve('node-pg-clients', findWorld);
