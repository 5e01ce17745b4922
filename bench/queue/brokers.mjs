// The brokers and SQLite as bench/queue.mjs sees them from outside weir: their versions, a broker's CPU,
// and the counts of a queue that weir's broker queues do not offer, read from the broker itself.

import { createRequire } from 'node:module';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { processTicks, ROOT } from '../lib.mjs';
import { BROKER_PROCESS } from './cases.mjs';

/** CPU ticks of `backend`'s broker process (all its threads), or undefined for SQLite. */
export const brokerTicks = (backend) =>
  BROKER_PROCESS[backend] ? processTicks(BROKER_PROCESS[backend]) : undefined;

/** A package of the repo root's node_modules (better-sqlite3, amqplib), for the runner's own use. */
export const rootRequire = createRequire(join(ROOT, 'package.json'));

export function sqliteVersion() {
  try {
    const Database = rootRequire('better-sqlite3');
    const db = new Database(':memory:');
    const { v } = db.prepare('SELECT sqlite_version() AS v').get();
    db.close();
    return v;
  } catch {
    return 'n/a';
  }
}

/**
 * `queue` with a `counts()` the bench can check. SQLite keeps every job's state and has its own; a broker
 * keeps none (weir's RabbitMQ and NATS queues offer no `counts()`), so the bench reads what the broker
 * itself reports, with its own client on `url`: RabbitMQ's ready messages as `waiting` (it reports no
 * `active`), NATS's consumer pending and ack-pending as `waiting` and `active`, and the length of the
 * dead-letter queue or stream as `dead`. No broker reports `failed` (waiting for a retry) or `completed`.
 */
export function countable(queue, url) {
  if (typeof queue.counts === 'function') return queue;
  queue.counts = () => brokerCounts(queue.backend, queue.name, url);
  return queue;
}

async function brokerCounts(backend, name, url) {
  const counts = { waiting: 0, active: 0, failed: 0, completed: 0, dead: 0 };
  if (backend === 'amqp') {
    const model = await rootRequire('amqplib').connect(url, { timeout: 3000 });
    try {
      const channel = await model.createChannel();
      counts.waiting = (await channel.checkQueue(`weir.${name}`)).messageCount;
      counts.dead = (await channel.checkQueue(`weir.${name}.dead`)).messageCount;
    } finally {
      await model.close().catch(() => undefined);
    }
    return counts;
  }
  const { hostname, port } = new URL(url);
  const nc = await rootRequire('@nats-io/transport-node').connect({ servers: `${hostname}:${port || 4222}` });
  try {
    const jsm = await rootRequire('@nats-io/jetstream').jetstreamManager(nc);
    const consumer = await jsm.consumers.info(`WEIR_${name}`, 'weir');
    counts.waiting = consumer.num_pending;
    counts.active = consumer.num_ack_pending;
    counts.dead = (await jsm.streams.info(`WEIR-DEAD_${name}`)).state.messages;
  } finally {
    await nc.close();
  }
  return counts;
}

/** RabbitMQ's product and version, from its connection handshake (amqplib), or 'n/a'. */
export async function rabbitVersion(url) {
  try {
    const model = await rootRequire('amqplib').connect(url, { timeout: 3000 });
    const { product, version } = model.connection.serverProperties;
    await model.close();
    return `${product} ${version}`;
  } catch (err) {
    return `n/a (${err.message})`;
  }
}

/** nats-server's version and whether JetStream is on, from the INFO it greets a client with, or 'n/a'. */
export function natsVersion(url) {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = createConnection({ host: hostname, port: Number(port || 4222) });
    let text = '';
    const end = (answer) => {
      clearTimeout(timer);
      socket.destroy();
      done(answer);
    };
    const timer = setTimeout(() => end('n/a (no INFO within 3 s)'), 3000);
    socket.on('data', (chunk) => {
      text += chunk;
      const line = /^INFO (.*)\r\n/.exec(text);
      if (!line) return;
      try {
        const info = JSON.parse(line[1]);
        end(`nats-server ${info.version}, JetStream ${info.jetstream ? 'on' : 'off'}`);
      } catch {
        end('n/a (unreadable INFO)');
      }
    });
    socket.on('error', (err) => end(`n/a (${err.message})`));
  });
}
