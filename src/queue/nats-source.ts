/**
 * A NATS consumer's deliveries, pulled from the queue's durable consumer.
 *
 * Inputs: `take(max)` from the runner, with `max` its free slots; messages the server sends to the
 * pull requests. Outputs: deliveries, each handed to the runner as soon as its message arrives.
 * Guarantees:
 * - A message is never held waiting for the rest of its pull's batch. A pull request waits up to a
 *   second for its batch to fill; a message held that long would outlive a short lease, come back as a
 *   second delivery, and be counted as an attempt although its worker was alive (a job run once and
 *   dead-lettered as well).
 * - Pulls never ask for more than the free slots: running + arrived + still asked for ≤ concurrency.
 * - Arrived messages not yet running have their lease renewed with the running ones.
 * - At close, open pulls are left to end by themselves (within `PULL_EXPIRES_MS`) rather than stopped,
 *   since a message the server sends to a stopped pull is lost until its lease runs out and then comes
 *   back counted as an attempt; what arrives unstarted is given back with its attempt uncounted.
 */
import { reasonOf } from '../concurrency/signal.ts';
import type { JsMsg, PullConsumer } from './nats-driver.ts';
import type { Delivery, Source } from './runner.ts';

/** How long one pull request waits for messages: JetStream's client allows no less than a second. */
const PULL_EXPIRES_MS = 1000;

/** A pull still open this long past its expiry is stopped: its connection was lost under it. */
const PULL_STUCK_MS = PULL_EXPIRES_MS + 5000;

/** What a pulled source needs of its queue. */
export interface PulledFrom {
  /** The queue's durable consumer. */
  consumer(): Promise<PullConsumer>;
  /** The delivery for `msg`, or `undefined` when the queue put it back (it came before its delay). */
  delivery(msg: JsMsg): Delivery | undefined;
  /** How often leases are renewed. */
  readonly extendEveryMs: number;
}

interface Pull {
  /** Messages asked for and not yet arrived. */
  wanted: number;
  stop(): void;
  ended: Promise<void>;
}

/** The source of one consumer. */
export function pulledSource(from: PulledFrom): Source {
  const messages = new WeakMap<Delivery, JsMsg>();
  /** Arrived, not yet taken by the runner. */
  const arrived: Delivery[] = [];
  const pulls = new Set<Pull>();
  /** Deliveries given back at close: those that arrive once the consumer has stopped taking. */
  const givenBack: Promise<void>[] = [];
  let closing = false;
  let consumer: PullConsumer | undefined;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => wake?.();

  const asked = () => {
    let n = 0;
    for (const pull of pulls) n += pull.wanted;
    return n;
  };

  async function open(max: number): Promise<void> {
    // One lookup per consumer, not per pull: it is a round trip.
    consumer ??= await from.consumer();
    const batch = await consumer.fetch({ max_messages: max, expires: PULL_EXPIRES_MS });
    const pull: Pull = { wanted: max, stop: () => batch.stop(), ended: Promise.resolve() };
    const stuck = setTimeout(() => batch.stop(), PULL_STUCK_MS);
    stuck.unref();
    pulls.add(pull);
    pull.ended = (async () => {
      try {
        for await (const msg of batch) {
          pull.wanted = Math.max(0, pull.wanted - 1);
          let delivery: Delivery | undefined;
          try {
            delivery = from.delivery(msg);
          } catch (err) {
            // Unreadable: left unacknowledged, as before, and reported by the next take.
            failure = err;
            continue;
          }
          if (delivery === undefined) continue;
          if (closing) {
            givenBack.push(delivery.release());
            continue;
          }
          messages.set(delivery, msg);
          arrived.push(delivery);
          notify();
        }
      } catch (err) {
        failure = err;
      } finally {
        clearTimeout(stuck);
        pulls.delete(pull);
        notify();
      }
    })();
  }

  return {
    take: async (max, signal) => {
      for (;;) {
        if (signal.aborted) throw reasonOf(signal);
        if (arrived.length > 0) return arrived.splice(0, max);
        if (failure !== undefined) {
          const err = failure;
          failure = undefined;
          throw err;
        }
        const want = max - asked();
        if (want > 0) await open(want);
        if (arrived.length > 0 || pulls.size === 0) continue;
        await new Promise<void>((resolve) => {
          const onAbort = () => done();
          signal.addEventListener('abort', onAbort, { once: true });
          function done() {
            signal.removeEventListener('abort', onAbort);
            wake = undefined;
            resolve();
          }
          wake = done;
        });
      }
    },
    extend: async (running) => {
      for (const delivery of running) messages.get(delivery)?.working();
      for (const delivery of arrived) messages.get(delivery)?.working();
    },
    extendEveryMs: from.extendEveryMs,
    close: async () => {
      closing = true;
      givenBack.push(...arrived.splice(0).map((delivery) => delivery.release()));
      const open = [...pulls];
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          for (const pull of open) pull.stop();
          resolve();
        }, PULL_STUCK_MS);
      });
      await Promise.race([Promise.allSettled(open.map((pull) => pull.ended)), late]);
      clearTimeout(timer);
      const failed = (await Promise.allSettled(givenBack)).find((r) => r.status === 'rejected');
      // The job was not given back: its lease runs out and it comes back, this delivery counted.
      if (failed !== undefined) throw failed.reason;
    },
  };
}
