/**
 * A RabbitMQ consumer's deliveries: pushed by the broker (at most `prefetch` unacknowledged), buffered
 * until the runner takes them. The channel is made again after a reconnect; the broker has put back
 * what the old one held.
 */
import { reasonOf } from '../concurrency/signal.ts';
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
  const open = (): Promise<void> => {
    opening ??= (async () => {
      const ch = await model.createConfirmChannel();
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
      ({ consumerTag } = await ch.consume(
        queue,
        (msg) => {
          if (msg === null) return;
          buffer.push(from.delivery(ch, msg));
          wake?.();
        },
        { noAck: false },
      ));
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
          await open();
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
