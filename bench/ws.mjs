#!/usr/bin/env node
// WebSockets: weir's app.ws() (with the rooms hub for broadcasts) against a plain `ws` server
// (WebSocketServer on node:http, the same `ws` that weir runs on), in the same run.
// - echo: --clients sockets, each sending a 32-byte text message and waiting for its echo before the
//   next; 1 s warm-up, then --duration s measured: messages/s.
// - broadcast: --fanout sockets in one room; one control message asks the server for --messages
//   broadcasts of 64 bytes each; measured from the ask until every socket has every message
//   (deliveries/s = fanout × messages ÷ time). weir: hub.broadcast() (memory:), encoded once per
//   broadcast; ws: the loop over wss.clients with client.send(string) of its README.
// The server runs in a process pinned to core 0, the load in one pinned to core 1; rounds alternate
// which server goes first. Ratios are weir ÷ ws within a round; their median is in bold.
// Every process is stopped by PID; traffic goes to 127.0.0.1 only; each run is bounded in time.
//
//   node bench/ws.mjs                                   (3 rounds)
//   node bench/ws.mjs --rounds 1 --duration 3 --out bench/RESULTS-ws.md

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { HOST, ROOT } from './lib/common.mjs';
import { clockTicks, pinning, ticks } from './lib/cpu.mjs';
import { machineFacts } from './lib/machine.mjs';
import { cleanupOnExit, reap, spawnTracked, startServer, stopServer } from './lib/processes.mjs';
import { medianOf } from './lib/stats.mjs';

const SERVERS = ['weir', 'ws'];

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    clients: { type: 'string', default: '64' },
    fanout: { type: 'string', default: '1000' },
    messages: { type: 'string', default: '200' },
    port: { type: 'string', default: '18291' },
    out: { type: 'string' },
    server: { type: 'string' },
    load: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log(`node bench/ws.mjs [--rounds N] [--duration S] [--clients C] [--fanout F] [--messages M] [--out FILE]
  --rounds N      rounds, each running both servers, alternating which goes first (3)
  --duration S    measured seconds of each echo run, after a 1 s warm-up (5)
  --clients C     echo sockets, each with one message in flight (64)
  --fanout F      sockets in the broadcast room (1000)
  --messages M    broadcasts per broadcast run (200)
  --port N        the server's port on 127.0.0.1 (18291)
  --out FILE      also write the Markdown report to FILE`);
  process.exit(0);
}
const rounds = Number(values.rounds);
const duration = Number(values.duration);
const clients = Number(values.clients);
const fanout = Number(values.fanout);
const messages = Number(values.messages);
const port = Number(values.port);
if (
  !(rounds >= 1 && rounds <= 10) ||
  !(duration >= 1 && duration <= 60) ||
  !(clients >= 1 && clients <= 1000) ||
  !(fanout >= 1 && fanout <= 5000) ||
  !(messages >= 1 && messages <= 10_000)
) {
  console.error('--rounds 1…10, --duration 1…60, --clients 1…1000, --fanout 1…5000, --messages 1…10000');
  process.exit(2);
}
const base = `ws://${HOST}:${port}`;
const PAYLOAD = 'x'.repeat(64);

if (values.server !== undefined) {
  await runServer(values.server);
} else if (values.load !== undefined) {
  await runLoad(values.load);
  process.exit(0);
} else {
  await main();
}

/** A server process: /echo echoes, /room joins the room, a "go" on /room broadcasts `messages` times. */
async function runServer(name) {
  if (name === 'weir') {
    // Under `--import tsx` (see main()): one copy of each module, as an app that imports weir has.
    const { App } = await import('../src/index.ts');
    const { rooms } = await import('../src/ws/index.ts');
    const hub = await rooms();
    const app = new App({ logger: false });
    app.ws('/echo', async (socket) => {
      for await (const message of socket) socket.send(message);
    });
    app.ws('/room', { maxConnections: 10_000 }, async (socket) => {
      hub.join(socket, 'all');
      for await (const message of socket) {
        if (message !== 'go') continue;
        const cpu = process.cpuUsage();
        for (let i = 0; i < messages; i++) await hub.broadcast('all', PAYLOAD);
        const used = process.cpuUsage(cpu);
        socket.send(`cpu:${used.user + used.system}`);
      }
    });
    app.get('/', () => 'ok');
    await app.listen({ port, host: HOST, signals: ['SIGTERM'], shutdownTimeoutMs: 1000 });
  } else if (name === 'ws') {
    const { createServer } = await import('node:http');
    const { WebSocketServer } = await import('ws');
    const server = createServer((_req, res) => res.end('ok'));
    const echo = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    const room = new WebSocketServer({ noServer: true, perMessageDeflate: false });
    echo.on('connection', (socket) => {
      socket.on('message', (data, binary) => socket.send(data, { binary }));
    });
    room.on('connection', (socket) => {
      socket.on('message', (data) => {
        if (data.toString() !== 'go') return;
        const cpu = process.cpuUsage();
        for (let i = 0; i < messages; i++) for (const client of room.clients) client.send(PAYLOAD);
        const used = process.cpuUsage(cpu);
        socket.send(`cpu:${used.user + used.system}`);
      });
    });
    server.on('upgrade', (req, socket, head) => {
      const target = req.url === '/echo' ? echo : req.url === '/room' ? room : undefined;
      if (target === undefined) return socket.destroy();
      target.handleUpgrade(req, socket, head, (ws) => target.emit('connection', ws, req));
    });
    server.listen(port, HOST);
    process.on('SIGTERM', () => process.exit(0));
  } else {
    throw new Error(`unknown server ${name}`);
  }
}

function connect(WebSocket, url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** A load process: prints one JSON line with the result. */
async function runLoad(kind) {
  const { default: WebSocket } = await import('ws');
  if (kind === 'echo') {
    const sockets = await Promise.all(
      Array.from({ length: clients }, () => connect(WebSocket, `${base}/echo`)),
    );
    const message = 'm'.repeat(32);
    const warmUntil = performance.now() + 1000;
    const endAt = warmUntil + duration * 1000;
    let counted = 0;
    let total = 0;
    await Promise.all(
      sockets.map(
        (socket) =>
          new Promise((resolve) => {
            socket.on('message', () => {
              const now = performance.now();
              total++;
              if (now >= warmUntil) counted++;
              if (now < endAt) socket.send(message);
              else resolve();
            });
            socket.send(message);
          }),
      ),
    );
    for (const socket of sockets) socket.terminate();
    console.log(JSON.stringify({ rate: counted / duration, total }));
    return;
  }
  // broadcast: connect in batches (the server's accept queue), then one warm-up run and one measured.
  const sockets = [];
  for (let i = 0; i < fanout; i += 100) {
    const batch = Math.min(100, fanout - i);
    sockets.push(
      ...(await Promise.all(Array.from({ length: batch }, () => connect(WebSocket, `${base}/room`)))),
    );
  }
  await new Promise((r) => setTimeout(r, 200));
  const run = () =>
    new Promise((resolve, reject) => {
      let pending = fanout + 1; // every socket, and the server's CPU report
      let cpuUs = 0;
      let ms = 0;
      const counts = new Array(fanout).fill(0);
      const settle = () => {
        if (--pending > 0) return;
        clearTimeout(timer);
        resolve({ ms, cpuUs });
      };
      const timer = setTimeout(
        () => reject(new Error(`broadcast not delivered within 60 s (${pending} sockets short)`)),
        60_000,
      );
      const started = performance.now();
      sockets.forEach((socket, i) => {
        socket.removeAllListeners('message');
        socket.on('message', (data) => {
          if (data.length !== PAYLOAD.length) {
            cpuUs = Number(data.toString().slice(4));
            settle();
          } else if (++counts[i] === messages) {
            ms = Math.max(ms, performance.now() - started);
            settle();
          }
        });
      });
      sockets[0].send('go');
    });
  await run();
  const { ms, cpuUs } = await run();
  for (const socket of sockets) socket.terminate();
  console.log(
    JSON.stringify({
      rate: (fanout * messages) / (ms / 1000),
      ms,
      cpuNs: (cpuUs * 1000) / (fanout * messages),
    }),
  );
}

async function main() {
  const pin = pinning();
  cleanupOnExit();
  const cpuNs = new Map(SERVERS.map((s) => [s, []]));
  const echoCpuUs = new Map(SERVERS.map((s) => [s, []]));
  const results = {
    echo: new Map(SERVERS.map((s) => [s, []])),
    broadcast: new Map(SERVERS.map((s) => [s, []])),
  };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? SERVERS : [...SERVERS].reverse();
    for (const name of order) {
      const server = await startServer({
        name,
        argv: [
          ...pin.server,
          process.execPath,
          ...(name === 'weir' ? ['--import', 'tsx'] : []),
          new URL(import.meta.url).pathname,
          '--server',
          name,
          '--port',
          String(port),
          '--messages',
          String(messages),
        ],
        port,
        probe: async () => {
          await (await fetch(`http://${HOST}:${port}/`)).text();
        },
        cwd: ROOT,
      });
      try {
        // One socket first, so that what weir loads on its first upgrade (ws) is not counted.
        const { default: WebSocket } = await import('ws');
        (await connect(WebSocket, `${base}/echo`)).terminate();
        for (const kind of ['echo', 'broadcast']) {
          const argv = [
            ...pin.wrk,
            process.execPath,
            new URL(import.meta.url).pathname,
            ...['--load', kind, '--port', String(port), '--duration', String(duration)],
            ...['--clients', String(clients), '--fanout', String(fanout), '--messages', String(messages)],
          ];
          const before = ticks(`/proc/${server.child.pid}/stat`);
          const load = spawnTracked(argv, { cwd: ROOT });
          const timer = setTimeout(() => load.child.kill('SIGKILL'), (duration + 90) * 1000);
          const { code } = await load.exited;
          clearTimeout(timer);
          const text = load.log.join('');
          if (code !== 0) throw new Error(`${kind} load against ${name} exited with ${code}:\n${text}`);
          const r = JSON.parse(
            text
              .trim()
              .split('\n')
              .findLast((line) => line.startsWith('{')),
          );
          results[kind].get(name)[round] = r.rate;
          if (kind === 'broadcast') cpuNs.get(name)[round] = r.cpuNs;
          else
            echoCpuUs.get(name)[round] =
              (((ticks(`/proc/${server.child.pid}/stat`) - before) / clockTicks()) * 1e6) / r.total;
          console.log(
            `round ${round + 1} ${name} ${kind}: ${Math.round(r.rate)} messages/s${kind === 'broadcast' ? `, server CPU ${r.cpuNs.toFixed(0)} ns per delivery` : ''}`,
          );
        }
      } finally {
        await stopServer(server);
        await reap(server, 1000);
      }
    }
  }
  const m = machineFacts();
  const row = (kind, name) => {
    const runs = results[kind].get(name);
    const ratios = runs.map((r, i) => r / results[kind].get('ws')[i]);
    return `| ${kind} | ${name} | ${runs.map((r) => Math.round(r)).join(', ')} | **${medianOf(ratios).toFixed(2)}** |`;
  };
  const report = [
    '# WebSockets: weir app.ws() vs a plain ws server',
    '',
    `Machine: ${m.nproc} × ${m.cpuModel}, ${m.kernel}, Node ${m.node}, commit ${m.commit}.`,
    `Command: \`node bench/ws.mjs --rounds ${rounds} --duration ${duration} --clients ${clients} --fanout ${fanout} --messages ${messages}\`.`,
    'Server pinned to core 0, load (ws clients) to core 1; rounds alternate which server goes first; weir is loaded',
    'from source (tsx compiles it once at start). echo: each socket sends 32 bytes and waits for the echo before the',
    `next, ${clients} sockets, 1 s warm-up then ${duration} s. broadcast: ${fanout} sockets in one room, ${messages}`,
    'broadcasts of 64 bytes asked at once, timed until every socket has every one (after one warm-up run);',
    'deliveries/s = sockets × broadcasts ÷ time. The load process parses every frame on one core, so it bounds the',
    "broadcast numbers of both servers alike: read the ratio. weir's broadcast goes through its rooms hub",
    "(memory:), each socket under its send-buffer bound; ws's is the loop over wss.clients of its README.",
    '',
    '| test | server | messages/s per round | ÷ ws (median) |',
    '| --- | --- | ---: | ---: |',
    ...['echo', 'broadcast'].flatMap((kind) => SERVERS.map((name) => row(kind, name))),
    '',
    "The server process's CPU time per echoed message (/proc ticks over the whole echo run, warm-up included,",
    '÷ every message echoed): less moved by other work on the machine than messages/s.',
    '',
    '| server | µs per echo per round | ÷ ws (median) |',
    '| --- | ---: | ---: |',
    ...SERVERS.map((name) => {
      const runs = echoCpuUs.get(name);
      const ratios = runs.map((r, i) => r / echoCpuUs.get('ws')[i]);
      return `| ${name} | ${runs.map((r) => r.toFixed(1)).join(', ')} | **${medianOf(ratios).toFixed(2)}** |`;
    }),
    '',
    "The server's own CPU time for a broadcast (process.cpuUsage() around the loop that hands the broadcasts",
    'to every socket: framing and the write to the kernel, the part of a broadcast the load process cannot skew),',
    'per delivery:',
    '',
    '| server | ns per delivery per round | ÷ ws (median) |',
    '| --- | ---: | ---: |',
    ...SERVERS.map((name) => {
      const runs = cpuNs.get(name);
      const ratios = runs.map((r, i) => r / cpuNs.get('ws')[i]);
      return `| ${name} | ${runs.map((r) => r.toFixed(0)).join(', ')} | **${medianOf(ratios).toFixed(2)}** |`;
    }),
    '',
  ].join('\n');
  console.log(report);
  if (values.out) writeFileSync(values.out, report);
}
