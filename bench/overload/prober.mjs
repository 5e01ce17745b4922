#!/usr/bin/env node
// The overload benchmark's two probers, run beside the load in a process of their own: light clients that
// ask what a user would, "does a client that is not one of the load's connections get an answer?".
//   fresh       a new TCP connection per request (agent: false, Connection: close), as a new client does;
//   keep-alive  one keep-alive connection reused for every request (an http.Agent with maxSockets 1).
// The keep-alive prober's connection is opened before the load starts: the process sends one request a
// second on it (not counted), says `ready` on stderr once the first is answered, and goes on until a line
// `go` arrives on stdin (or stdin ends). Then, for --seconds, each prober sends --rate requests a second:
// the fresh prober on a fixed schedule (open loop: a slow answer does not delay the next request, so no
// slow answer goes unseen), the keep-alive prober on the same schedule but never before the previous
// request has settled (HTTP/1.1 without pipelining: one connection carries one request at a time; it
// sends fewer when answers are slow). Every request has a time-out of --timeout seconds, so the process
// ends at most --seconds + --timeout seconds after `go`. Each request carries `x-probe: <prober>-<n>`
// (servers traced with OVERLOAD_TRACE=1 log it).
// On stdout, one JSON object: { fresh: [probe…], keepAlive: [probe…] }, a probe being { sentAt,
// connectedAt, answeredAt, status, error } (wall-clock ms; connectedAt is when the TCP handshake completed
// from the client's side; answeredAt when the whole body was read; status absent and error 'timeout' or a
// code when none came). Traffic goes to 127.0.0.1 only.
//
//   node bench/overload/prober.mjs --port 3100 --seconds 10 [--rate 5] [--timeout 30] [--path /overload]

import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    seconds: { type: 'string' },
    rate: { type: 'string', default: '5' },
    timeout: { type: 'string', default: '30' },
    path: { type: 'string', default: '/overload' },
  },
});
const port = Number(values.port);
const seconds = Number(values.seconds);
const rate = Number(values.rate);
const timeoutMs = Number(values.timeout) * 1000;
if (
  !(port > 0 && port < 65536) ||
  !(seconds > 0 && seconds <= 600) ||
  !(rate > 0 && rate <= 100) ||
  !(timeoutMs > 0 && timeoutMs <= 120_000)
) {
  console.error('prober: --port 1…65535, --seconds 1…600, --rate 1…100 and --timeout 1…120 are required');
  process.exit(2);
}

/** Wall-clock ms with a fraction: comparable with the servers' trace lines. */
const now = () => performance.timeOrigin + performance.now();

/** One request of `prober` (number `n`), through `agent`; resolves to its probe record. */
function probe(prober, n, agent) {
  const record = { sentAt: now() };
  return new Promise((resolve) => {
    let settled = false;
    const settle = (fields) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(Object.assign(record, fields));
    };
    const req = request(
      { host: '127.0.0.1', port, path: values.path, agent, headers: { 'x-probe': `${prober}-${n}` } },
      (res) => {
        res.resume();
        res.once('end', () => settle({ status: res.statusCode, answeredAt: now() }));
        res.once('error', (err) => settle({ error: err.code ?? err.message }));
      },
    );
    req.once('socket', (socket) => {
      const connected = () => {
        record.connectedAt ??= now();
      };
      if (socket.connecting) socket.once('connect', connected);
      else connected(); // a reused keep-alive connection
    });
    req.once('error', (err) => settle({ error: err.code ?? err.message }));
    const timer = setTimeout(() => {
      settle({ error: 'timeout' });
      req.destroy();
    }, timeoutMs);
    req.end();
  });
}

/**
 * Sends `count` probes of `prober` through `agent`, probe n at t0 + n / rate (ms on performance.now()), and
 * resolves to their records once all have settled. With `serial`, probe n also waits for probe n - 1 to
 * settle (one connection carries one request at a time), and none leaves after `end`.
 */
function schedule(prober, agent, count, t0, { serial = false, end = Number.POSITIVE_INFINITY } = {}) {
  const probes = [];
  return new Promise((resolve) => {
    let n = 0;
    const next = () => {
      if (n >= count || performance.now() >= end) {
        resolve(Promise.all(probes));
        return;
      }
      const sent = probe(prober, n, agent);
      probes.push(sent);
      n++;
      const wait = () => setTimeout(next, Math.max(0, t0 + (n * 1000) / rate - performance.now()));
      if (serial) sent.then(wait);
      else wait();
    };
    next();
  });
}

const count = Math.max(1, Math.floor(seconds * rate));
const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
// Open the keep-alive connection, and keep it from idling out (node:http closes it after 5 s), until `go`.
const warm = await probe('warm-up', 0, keepAlive);
if (warm.status === undefined) {
  console.error(`prober: the warm-up request failed: ${warm.error}`);
  process.exit(1);
}
process.stderr.write('ready\n');
const keepWarm = setInterval(() => probe('warm-up', 0, keepAlive), 1000);
await new Promise((resolve) => {
  let input = '';
  process.stdin.setEncoding('utf8').on('data', (d) => {
    input += d;
    if (input.includes('go\n')) resolve();
  });
  process.stdin.once('end', resolve);
});
clearInterval(keepWarm);
process.stdin.destroy();
const t0 = performance.now();
const [fresh, kept] = await Promise.all([
  schedule('fresh', false, count, t0),
  // Half a period later, so that the two probers' requests do not leave together.
  schedule('keep-alive', keepAlive, count, t0 + 500 / rate, { serial: true, end: t0 + seconds * 1000 }),
]);
keepAlive.destroy();
process.stdout.write(`${JSON.stringify({ fresh, keepAlive: kept })}\n`);
