// What one checkout of a pg pool costs (connect, then release at once), on a Client that needs no network,
// 32 requests in flight on 16 connections, three ways: pg's own acquire timer (connectionTimeoutMillis set,
// as pg-pool arms and clears a timer per checkout), no timer at all, and weir's wait line
// (src/db/postgres-wait.ts: one timer per pool) in front of a pool with no timer. weir's build: run
// `npm run build` at the repo root first. `node bench/db/pool-checkout.mjs [rounds]`; pin it to a core
// (taskset -c 0) for steadier numbers.
import { EventEmitter } from 'node:events';
import pg from 'pg';
import { WaitLine } from '../../dist/db/postgres-wait.js';

class NoNetworkClient extends EventEmitter {
  connect(callback) {
    setImmediate(() => callback());
  }
  end(callback) {
    callback?.();
  }
}

const CHECKOUTS = 300_000;
const noop = () => {};

async function run(timeoutMs, withLine) {
  const pool = new pg.Pool({
    max: 16,
    Client: NoNetworkClient,
    connectionTimeoutMillis: timeoutMs,
    idleTimeoutMillis: 0,
  });
  const line = withLine ? new WaitLine(10_000, () => new Error('timed out')) : undefined;
  const opened = await Promise.all(Array.from({ length: 16 }, () => pool.connect()));
  for (const client of opened) client.release();
  let left = CHECKOUTS;
  const started = process.hrtime.bigint();
  await new Promise((resolve) => {
    let active = 0;
    const next = () => {
      if (left-- <= 0) {
        if (--active === 0) resolve();
        return;
      }
      const wait = line?.add(undefined, noop);
      pool.connect((_err, _client, release) => {
        if (wait !== undefined) line.answered(wait);
        release();
        next();
      });
    };
    for (let i = 0; i < 32; i++) {
      active++;
      next();
    }
  });
  const ns = Number(process.hrtime.bigint() - started) / CHECKOUTS;
  await pool.end();
  return ns;
}

const rounds = Number(process.argv[2] ?? 5);
const results = { 'pg timer': [], 'no timer': [], 'weir line': [] };
for (let r = 0; r < rounds; r++) {
  results['pg timer'].push(await run(10_000, false));
  results['no timer'].push(await run(0, false));
  results['weir line'].push(await run(0, true));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [label, ns] of Object.entries(results)) {
  console.log(
    `${label.padEnd(10)} ${median(ns).toFixed(0)} ns per checkout (median of ${rounds}: ${ns.map((n) => n.toFixed(0)).join(', ')})`,
  );
}
