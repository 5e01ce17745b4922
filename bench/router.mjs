#!/usr/bin/env node
// Router micro-benchmark: weir's router against find-my-way (fastify's), on one shared fixture of routes
// and lookups. Lookups per second, best of several rounds, in one process (no HTTP).
//   npm run build && node bench/router.mjs
import { createRequire } from 'node:module';
import { Router } from '../dist/http/router.js';

const require = createRequire(import.meta.url);
const FindMyWay = require('find-my-way');

const ROUTES = [
  '/',
  '/plaintext',
  '/json',
  '/healthz',
  '/users',
  '/users/me',
  '/users/:id',
  '/users/:id/posts',
  '/users/:id/posts/:post',
  '/orgs/:org/repos/:repo',
  '/static/*',
  '/api/v1/items',
  '/api/v1/items/:id',
];
const LOOKUPS = [
  ['static', ['/plaintext', '/json', '/users', '/api/v1/items']],
  ['one param', ['/users/42', '/api/v1/items/7']],
  ['two params', ['/users/42/posts/7', '/orgs/weir/repos/core']],
  ['wildcard', ['/static/assets/app.3f9a2b1c.js']],
  ['miss', ['/nope/nothing']],
];

const weir = new Router();
for (const path of ROUTES) weir.add('GET', path, path);
weir.seal();
const fmw = FindMyWay();
for (const path of ROUTES) fmw.on('GET', path, () => path);

// Both do the whole job the server needs: path → handler + params.
const contenders = {
  weir: (path) => {
    const match = weir.find(path);
    return match === undefined ? undefined : match.entry.methods.get('GET');
  },
  'find-my-way': (path) => fmw.find('GET', path)?.handler,
};

const ITERATIONS = Number(process.env.ROUTER_ITERATIONS ?? 2_000_000);
const ROUNDS = 5;
let sink = 0;
const results = {};
for (const [label, paths] of LOOKUPS) {
  results[label] = {};
  for (const [name, lookup] of Object.entries(contenders)) {
    let best = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < ITERATIONS; i++) if (lookup(paths[i % paths.length]) !== undefined) sink++;
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      best = Math.max(best, ITERATIONS / seconds);
    }
    results[label][name] = best;
  }
}
console.log(
  `node ${process.version}, ${ITERATIONS.toLocaleString('en-US')} lookups × ${ROUNDS} rounds, best round (sink ${sink > 0})`,
);
console.log('| lookup | weir (M/s) | find-my-way (M/s) | weir ÷ find-my-way |');
console.log('| --- | ---: | ---: | ---: |');
for (const [label, r] of Object.entries(results)) {
  console.log(
    `| ${label} | ${(r.weir / 1e6).toFixed(1)} | ${(r['find-my-way'] / 1e6).toFixed(1)} | ${(r.weir / r['find-my-way']).toFixed(2)}× |`,
  );
}
