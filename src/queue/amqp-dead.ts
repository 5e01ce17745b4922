/**
 * RabbitMQ's dead-letter list: a durable queue of its own, read with `basic.get` on a channel opened
 * for the purpose. A message read and not acknowledged goes back, in its place, when that channel
 * closes: so listing is a peek, and re-queuing a job acknowledges it (takes it out) only once its copy
 * is confirmed on the main queue.
 *
 * The broker offers no lookup by id: re-queuing one job reads the list through, one message per round
 * trip, up to the length it had when the call began (jobs dead-lettered meanwhile wait for the next call).
 */
import { H, type Message, type Model } from './amqp-driver.ts';
import { storedRequestId } from './base.ts';
import type { DeadJob } from './types.ts';

/** The id of the job a dead message carries. */
export function deadId(msg: Message): string {
  return String(msg.properties.headers?.[H.id] ?? msg.properties.messageId);
}

/** A dead message as the dead-letter list shows it. */
export function deadJob<T>(msg: Message, queue: string, defaultMaxAttempts: number): DeadJob<T> {
  const h = msg.properties.headers ?? {};
  const died = Number(h[H.died]);
  const error = h[H.lastError];
  return {
    id: deadId(msg),
    queue,
    data: JSON.parse(msg.content.toString()) as T,
    attempts: Number(h[H.attempt] ?? 0),
    maxAttempts: Number(h[H.maxAttempts] ?? defaultMaxAttempts),
    createdAt: new Date(Number(h[H.created] ?? 0)),
    // Jobs dead-lettered before the time was recorded have none: say so rather than guess.
    finishedAt: Number.isFinite(died) && died > 0 ? new Date(died) : undefined,
    lastError: error === undefined || error === null || error === '' ? undefined : String(error),
    requestId: storedRequestId(h[H.requestId]),
  };
}

async function withReader<R>(model: Model, use: (reader: ReaderChannel) => Promise<R>): Promise<R> {
  const reader = await model.createConfirmChannel();
  reader.on('error', () => undefined);
  try {
    return await use(reader);
  } finally {
    // Closing the channel puts back, in order, every message it read and did not acknowledge.
    await reader.close().catch(() => undefined);
  }
}

type ReaderChannel = Awaited<ReturnType<Model['createConfirmChannel']>>;

/** The first `limit` messages of `deadQueue`, left where they are. */
export function peekDead(model: Model, deadQueue: string, limit: number): Promise<Message[]> {
  return withReader(model, async (reader) => {
    const seen: Message[] = [];
    while (seen.length < limit) {
      const msg = await reader.get(deadQueue, { noAck: false });
      if (msg === false) break;
      seen.push(msg);
    }
    return seen;
  });
}

/**
 * Goes through the messages `deadQueue` held when called; each one `pick` accepts is handed to
 * `requeue` and, once that resolved, taken out. Resolves with how many were.
 */
export function takeDead(
  model: Model,
  deadQueue: string,
  pick: (msg: Message) => boolean,
  requeue: (msg: Message) => Promise<void>,
): Promise<number> {
  return withReader(model, async (reader) => {
    const { messageCount } = await reader.checkQueue(deadQueue);
    let taken = 0;
    for (let i = 0; i < messageCount; i++) {
      const msg = await reader.get(deadQueue, { noAck: false });
      if (msg === false) break;
      if (!pick(msg)) continue;
      await requeue(msg);
      reader.ack(msg);
      taken++;
    }
    return taken;
  });
}
