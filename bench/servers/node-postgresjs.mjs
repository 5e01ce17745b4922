// node:http + postgres (postgres.js) with its tagged template; prepared statements are its default.
import postgres from 'postgres';
import { db, serve } from './db-http.mjs';

const sql = postgres({
  host: db.host,
  port: db.port,
  username: db.user,
  database: db.database,
  max: db.poolSize,
  prepare: true,
});

// The same text as SELECT_WORLD: postgres.js turns ${id} into $1.
const findWorld = (id) =>
  sql`SELECT id, randomnumber AS "randomNumber" FROM world WHERE id = ${id}`.then((rows) => rows[0]);

serve('node-postgresjs', findWorld);
