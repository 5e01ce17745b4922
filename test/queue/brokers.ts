/**
 * Looks at a broker with its own client, beside weir: what the tests check weir against when a queue
 * keeps no job status of its own, and which queues or streams a queue name maps to.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect as natsConnect } from '@nats-io/transport-node';
import type { Amqplib } from '../../src/queue/amqp-driver.ts';
import { AMQP_URL, NATS_URL } from '../helpers/services.ts';

// amqplib ships no types; weir's own slice of them is enough here.
const amqplib = 'amqplib';
const amqp = ((await import(amqplib)) as { default: Amqplib }).default;

/** A RabbitMQ queue's ready messages and consumers, or `undefined` when it does not exist. */
async function checkAmqpQueue(
  queue: string,
): Promise<{ messageCount: number; consumerCount: number } | undefined> {
  const connection = await amqp.connect(AMQP_URL, {});
  try {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    try {
      return await channel.checkQueue(queue);
    } catch {
      return undefined;
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Messages ready in a RabbitMQ queue, or `undefined` when it does not exist. */
export async function amqpDepth(queue: string): Promise<number | undefined> {
  return (await checkAmqpQueue(queue))?.messageCount;
}

/** Declares a RabbitMQ queue with `options` (or, with `remove`, deletes it), on a connection of its own. */
export async function amqpQueue(queue: string, options: { durable: boolean } | 'remove'): Promise<void> {
  const connection = await amqp.connect(AMQP_URL, {});
  try {
    const channel = await connection.createConfirmChannel();
    if (options === 'remove') await channel.deleteQueue(queue);
    else await channel.assertQueue(queue, options);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/**
 * Publishes messages to RabbitMQ queues as another producer would, with the headers given (no weir header
 * they do not set), on one connection, and waits for the broker's confirms.
 */
export async function amqpPublish(
  messages: { queue: string; content: string; headers: Record<string, unknown> }[],
): Promise<void> {
  const connection = await amqp.connect(AMQP_URL, {});
  try {
    const channel = await connection.createConfirmChannel();
    for (const { queue, content, headers } of messages) {
      await new Promise<void>((resolve, reject) => {
        channel.sendToQueue(queue, Buffer.from(content), { persistent: true, headers }, (err) =>
          err === null || err === undefined ? resolve() : reject(err),
        );
      });
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Consumers of a RabbitMQ queue, or `undefined` when it does not exist. */
export async function amqpConsumers(queue: string): Promise<number | undefined> {
  return (await checkAmqpQueue(queue))?.consumerCount;
}

/** Runs `use` with a JetStream manager and client on the test server. */
export async function withJetStream<R>(
  use: (jsm: Awaited<ReturnType<typeof jetstreamManager>>, js: ReturnType<typeof jetstream>) => Promise<R>,
): Promise<R> {
  const { hostname, port } = new URL(NATS_URL);
  const nc = await natsConnect({ servers: `${hostname}:${port || 4222}` });
  try {
    return await use(await jetstreamManager(nc), jetstream(nc));
  } finally {
    await nc.close();
  }
}

/** Jobs a NATS queue's consumer has not finished: pending plus delivered and not yet acknowledged. */
export function natsBacklog(stream: string): Promise<number> {
  return withJetStream(async (jsm) => {
    const info = await jsm.consumers.info(stream, 'weir');
    return info.num_pending + info.num_ack_pending;
  });
}

/** The names of the streams on the NATS server. */
export function natsStreams(): Promise<string[]> {
  return withJetStream(async (jsm) => {
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    return names;
  });
}
