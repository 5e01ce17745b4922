/**
 * A RabbitMQ consumer's deliveries: pushed by the broker (at most `prefetch` unacknowledged), buffered
 * until the runner takes them. The channel is made again after a reconnect; the broker has put back
 * what the old one held. While the broker is away, making a channel waits for the connection to come
 * back: a take waiting for one stops when its signal aborts (so that a consumer closes on time with the
 * broker down), and a channel that opens once the consumer has closed is shut without consuming.
 */
import { onAbort, reasonOf } from '../concurrency/signal.ts';
import type { Channel, Message, Model } from './amqp-driver.ts';
import type { Delivery, Source } from './runner.ts';

/** What a pushed source needs of its queue. */
export interface PushedFrom {
  readonly model: Model;
  /** The jobs queue to consume. */
  readonly queue: string;
  readonly prefetch: number;
  /** Declares the queue's queues on a new channel. */
  declare(channel: Channel): Promise<void>;
  delivery(channel: Channel, msg: Message): Delivery;
}

/** The source of one consumer. */
export function pushedSource(from: PushedFrom): Source {
  const { model, queue, prefetch } = from;
  const buffer: Delivery[] = [];
  let wake: (() => void) | undefined;
  let channel: Channel | undefined;
  let opening: Promise<void> | undefined;
  let consumerTag: string | undefined;
  let closed = false;
  const open = (): Promise<void> => {
    opening ??= (async () => {
      const ch = await model.createConfirmChannel();
      if (closed) {
        await ch.close().catch(() => undefined);
        return;
      }
      ch.on('error', () => undefined);
      ch.on('close', () => {
        if (channel === ch) {
          channel = undefined;
          opening = undefined;
          buffer.length = 0;
          wake?.();
        }
      });
      await from.declare(ch);
      await ch.prefetch(prefetch);
      if (closed) {
        await ch.close().catch(() => undefined);
        return;
      }
      ({ consumerTag } = await ch.consume(
        queue,
        (msg) => {
          if (msg === null) return;
          buffer.push(from.delivery(ch, msg));
          wake?.();
        },
        { noAck: false },
      ));
      if (closed) {
        // Closed while the consumer started: stop it, and give back what it was sent.
        await ch.cancel(consumerTag).catch(() => undefined);
        for (const delivery of buffer.splice(0)) await delivery.release().catch(() => undefined);
        await ch.close().catch(() => undefined);
        return;
      }
      channel = ch;
    })();
    opening.catch(() => {
      opening = undefined;
    });
    return opening;
  };
  return {
    take: async (max, signal) => {
      for (;;) {
        if (signal.aborted) throw reasonOf(signal);
        if (buffer.length > 0) return buffer.splice(0, max);
        if (channel === undefined) {
          await untilAborted(open(), signal);
          continue;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, 1000);
          const onAbort = () => done();
          signal.addEventListener('abort', onAbort, { once: true });
          function done() {
            clearTimeout(timer);
            signal.removeEventListener('abort', onAbort);
            wake = undefined;
            resolve();
          }
          wake = done;
        });
      }
    },
    close: async () => {
      closed = true;
      const ch = channel;
      channel = undefined;
      // Stop deliveries first, then give back what arrived unstarted: closing a channel with unacked
      // messages would hand them back marked as redelivered, which counts as an attempt.
      if (ch !== undefined && consumerTag !== undefined) await ch.cancel(consumerTag).catch(() => undefined);
      for (const delivery of buffer.splice(0)) await delivery.release();
      await ch?.close().catch(() => undefined);
    },
  };
}

/** `work`, or the signal's reason as soon as it aborts (`work` goes on, unawaited). */
function untilAborted(work: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(reasonOf(signal));
  return new Promise<void>((resolve, reject) => {
    const detach = onAbort(signal, () => reject(reasonOf(signal)));
    work.then(
      () => {
        detach();
        resolve();
      },
      (err: unknown) => {
        detach();
        reject(err);
      },
    );
  });
}
