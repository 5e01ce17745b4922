// node:http + pg (node-postgres) through pg.Pool, with a named prepared statement.
import pg from 'pg';
import { db, SELECT_WORLD, serve } from './db-http.mjs';

const pool = new pg.Pool({
  host: db.host,
  port: db.port,
  user: db.user,
  database: db.database,
  max: db.poolSize,
});

// Each pooled connection prepares 'world' on its first use; after that only Bind/Execute go over the wire.
const findWorld = (id) =>
  pool.query({ name: 'world', text: SELECT_WORLD, values: [id] }).then((result) => result.rows[0]);

serve('node-pg', findWorld);
