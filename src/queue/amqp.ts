/**
 * The RabbitMQ job queue (amqplib, loaded on first use, with its connection recovery). A queue is a
 * durable classic queue `weir.<name>` (priorities 0…9) of persistent messages, published on a confirm
 * channel: `add()` resolves on the broker's confirm, which for a persistent message on a durable queue
 * comes once it is on disk. Consumers ack after the handler resolves; a consumer whose connection dies
 * leaves its unacked jobs to the broker, which delivers them again. Retries and `delay` wait in per-delay
 * queues (`weir.<name>.delay.<ms>`, message TTL, dead-lettered back to the main queue), delays rounded up
 * to a power of two; dead jobs wait in `weir.<name>.dead`. An idempotency key is a one-message marker
 * queue that refuses a second marker (`x-overflow: reject-publish`), so two adds race at the broker.
 * (`names.ts` says why no two queue names share any of these.)
 */
import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { loadPackage } from '../internal/load-package.ts';
import type { Logger } from '../internal/logger.ts';
import { traceValue } from '../internal/trace.ts';
import { pushedSource } from './amqp-consumer.ts';
import { deadId, deadJob, peekDead, takeDead } from './amqp-dead.ts';
import {
  type Amqplib,
  type Channel,
  H,
  type Message,
  type Model,
  type PublishOptions,
} from './amqp-driver.ts';
import type { Backoff } from './backoff.ts';
import {
  BaseJobQueue,
  driverMissing,
  type JobQueueOptions,
  type PreparedAdd,
  storedRequestId,
  storedTimeout,
  unavailable,
} from './base.ts';
import { amqpNames } from './names.ts';
import type { Delivery, Source } from './runner.ts';
import type { Added, DeadJob, DeadLetters, DeadListOptions, JobQueue, ProcessOptions } from './types.ts';

/**
 * How long a publish waits for a channel: while the broker is away, making one waits for the connection
 * to come back, and an add must answer 503 rather than hang. (JetStream's publish has the same bound.)
 */
const CHANNEL_WAIT_MS = 5000;

/** How many idempotency marker queues an instance remembers, to delete them on destroy(). */
const MARKERS_KEPT = 10_000;

/** The delay queue a wait of `ms` goes through: the next power of two, at least 16 ms. */
export function delayBucket(ms: number): number {
  return 2 ** Math.max(4, Math.ceil(Math.log2(Math.max(ms, 1))));
}

/**
 * The RabbitMQ job queue. A broker forgets a job once it is acknowledged, so there is no job status; the
 * dead-letter list is a queue, and priorities are the queue's own.
 */
export class AmqpJobQueue<T = unknown> extends BaseJobQueue<T> implements JobQueue<T>, DeadLetters<T> {
  readonly backend = 'amqp';
  readonly capabilities = { status: false, deadLetters: true, priority: true } as const;
  readonly #model: Model;
  readonly #names: ReturnType<typeof amqpNames>;
  /** The jobs queue, `weir.<name>`. */
  readonly #queue: string;
  readonly #dead: string;
  /** Delay buckets declared on the current channels: a new channel declares them again on first use. */
  readonly #delayQueues = new Set<number>();
  /** Every delay bucket this instance declared (powers of two: a few dozen at most), for destroy(). */
  readonly #delayBuckets = new Set<number>();
  /**
   * Marker queues this instance declared, for destroy(): the most recent ones, and only while they can
   * still exist (the broker expires a marker after the idempotency window), so that a long-lived queue
   * adding jobs with keys does not grow it for ever.
   */
  readonly #markers: LRUCache<string, true>;
  /**
   * Markers of adds whose job the broker did not take and whose marker could not be removed then (the
   * broker was away): removed before their key is claimed again, so a retry does not answer the id of a
   * job that was never stored.
   */
  readonly #unreleased: LRUCache<string, true>;
  #channel: Promise<Channel> | undefined;

  private constructor(name: string, url: string, model: Model, options: JobQueueOptions, log: Logger) {
    super(name, url, options, log);
    this.#model = model;
    this.#names = amqpNames(name);
    this.#queue = this.#names.main;
    this.#dead = this.#names.dead;
    this.#markers = new LRUCache({ max: MARKERS_KEPT, ttl: this.idempotencyWindow, ttlAutopurge: false });
    this.#unreleased = new LRUCache({ max: MARKERS_KEPT, ttl: this.idempotencyWindow, ttlAutopurge: false });
  }

  static async open<T>(
    name: string,
    url: string,
    shown: string,
    options: JobQueueOptions,
    log: Logger,
  ): Promise<AmqpJobQueue<T>> {
    const amqp = await loadPackage<Amqplib>('amqplib', 'The RabbitMQ job queue', driverMissing);
    let model: Model;
    try {
      model = await amqp.connect(url, {
        timeout: 3000,
        // Fail fast at start-up; once connected, reconnect for ever with a capped backoff.
        recovery: {
          initialMaxRetries: 0,
          maxRetries: Number.POSITIVE_INFINITY,
          initialDelay: 100,
          maxDelay: 5000,
        },
      });
    } catch (err) {
      throw unavailable(shown, (err as Error).message, err);
    }
    const queue = new AmqpJobQueue<T>(name, shown, model, options, log);
    model.on('error', () => undefined);
    model.on('disconnect', (err) => {
      queue.#channel = undefined;
      log.warn({ queue: name, err }, `job queue ${shown}: disconnected, reconnecting`);
    });
    try {
      await queue.#publisher();
    } catch (err) {
      await model.close().catch(() => undefined);
      throw unavailable(shown, `RabbitMQ refused the queue: ${(err as Error).message}`, err);
    }
    return queue;
  }

  /**
   * The publisher channel, waiting for it at most {@link CHANNEL_WAIT_MS}.
   * @throws `WEIR_ERR_JOBS_UNAVAILABLE` when there is none by then.
   */
  async #ready(): Promise<Channel> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(unavailable(this.url, `no connection to the broker within ${CHANNEL_WAIT_MS} ms`)),
        CHANNEL_WAIT_MS,
      );
    });
    try {
      return await Promise.race([this.#publisher(), late]);
    } catch (err) {
      if ((err as { code?: unknown }).code === 'WEIR_ERR_JOBS_UNAVAILABLE') throw err;
      throw unavailable(this.url, `no channel: ${(err as Error).message}`, err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A confirm channel on the current connection, with the queues declared; made again after a reconnect. */
  #publisher(): Promise<Channel> {
    this.#channel ??= (async () => {
      const channel = await this.#model.createConfirmChannel();
      channel.on('error', () => undefined);
      channel.on('close', () => {
        if (this.#channel === current) this.#channel = undefined;
      });
      await this.#declare(channel);
      return channel;
    })();
    const current = this.#channel;
    current.catch(() => {
      if (this.#channel === current) this.#channel = undefined;
    });
    return current;
  }

  async #declare(channel: Channel): Promise<void> {
    await channel.assertQueue(this.#queue, { durable: true, arguments: { 'x-max-priority': 9 } });
    await channel.assertQueue(this.#dead, { durable: true });
    this.#delayQueues.clear();
  }

  async #delayQueue(channel: Channel, ms: number): Promise<string> {
    const bucket = delayBucket(ms);
    const name = this.#names.delay(bucket);
    if (!this.#delayQueues.has(bucket)) {
      await channel.assertQueue(name, {
        durable: true,
        arguments: {
          'x-message-ttl': bucket,
          'x-dead-letter-exchange': '',
          'x-dead-letter-routing-key': this.#queue,
        },
      });
      this.#delayQueues.add(bucket);
      this.#delayBuckets.add(bucket);
    }
    return name;
  }

  /** Publishes and waits for the broker's confirm; a nack or a lost connection is 503. */
  async #send(
    queue: string | ((channel: Channel) => Promise<string>),
    content: Buffer,
    options: PublishOptions,
  ): Promise<void> {
    const channel = await this.#ready();
    let target: string;
    try {
      target = typeof queue === 'string' ? queue : await queue(channel);
    } catch (err) {
      // The channel closed under the declaration (the connection dropped), or the broker refused it.
      throw unavailable(this.url, `cannot declare the delay queue: ${(err as Error).message}`, err);
    }
    await new Promise<void>((resolve, reject) => {
      try {
        channel.sendToQueue(
          target,
          content,
          { persistent: true, contentType: 'application/json', ...options },
          (err) => {
            if (err === null || err === undefined) resolve();
            else reject(unavailable(this.url, 'the broker did not confirm the job', err));
          },
        );
      } catch (err) {
        reject(unavailable(this.url, (err as Error).message, err));
      }
    });
  }

  protected async enqueue(job: PreparedAdd): Promise<Added> {
    const { id, text, attempts, priority, delay, key, backoff, timeout, requestId, trace } = job;
    const content = Buffer.from(text);
    if (key !== undefined) {
      const first = await this.#claimKey(key, id);
      if (first !== undefined) return { id: first, duplicate: true };
    }
    const headers: Record<string, unknown> = {
      [H.id]: id,
      [H.attempt]: 1,
      [H.maxAttempts]: attempts,
      [H.created]: Date.now(),
    };
    if (backoff !== undefined) headers[H.backoff] = JSON.stringify(backoff);
    if (timeout !== undefined) headers[H.timeout] = timeout;
    if (requestId !== undefined) headers[H.requestId] = requestId;
    // The trace context as headers of their own (`traceparent` …), where other tracers look for it too.
    if (trace !== undefined) for (const [name, value] of trace) headers[name] = value;
    try {
      await this.#send(delay > 0 ? (channel) => this.#delayQueue(channel, delay) : this.#queue, content, {
        messageId: id,
        priority,
        headers,
      });
    } catch (err) {
      // The key was recorded for a job the broker did not take: free it, or a retry would be told
      // `duplicate` with the id of a job that does not exist.
      if (key !== undefined) await this.#releaseKey(this.#names.key(key));
      throw err;
    }
    return { id, duplicate: false };
  }

  /** Removes a key's marker; when the broker is away, remembers to remove it before the key's next claim. */
  async #releaseKey(marker: string): Promise<boolean> {
    try {
      const channel = await this.#model.createConfirmChannel();
      channel.on('error', () => undefined);
      try {
        await channel.deleteQueue(marker);
      } finally {
        await channel.close().catch(() => undefined);
      }
      this.#unreleased.delete(marker);
      return true;
    } catch (err) {
      this.#unreleased.set(marker, true);
      this.log.warn(
        { queue: this.name, err },
        'an idempotency key whose job was refused could not be freed yet: it is freed before its next use',
      );
      return false;
    }
  }

  /**
   * Records `key` for `id` at the broker: a marker queue for the key holds one message and refuses a
   * second (its publish is nacked), and expires after the window without use. Resolves with the first
   * job's id when the key was already taken.
   */
  async #claimKey(key: string, id: string): Promise<string | undefined> {
    const marker = this.#names.key(key);
    if (this.#unreleased.has(marker) && !(await this.#releaseKey(marker))) {
      throw unavailable(this.url, 'cannot free the idempotency key of a job the broker refused');
    }
    const channel = await this.#ready();
    this.#markers.set(marker, true);
    try {
      await channel.assertQueue(marker, {
        durable: true,
        arguments: { 'x-max-length': 1, 'x-overflow': 'reject-publish', 'x-expires': this.idempotencyWindow },
      });
    } catch (err) {
      throw unavailable(this.url, `cannot record the idempotency key: ${(err as Error).message}`, err);
    }
    try {
      await this.#send(marker, Buffer.from(id), { messageId: id });
      return undefined;
    } catch (err) {
      // Refused: the key is taken, unless the broker is away. Read the first id; leave the marker in place.
      let msg: Message | false;
      try {
        const reader = await this.#model.createConfirmChannel();
        reader.on('error', () => undefined);
        try {
          msg = await reader.get(marker, { noAck: false });
        } finally {
          await reader.close().catch(() => undefined);
        }
      } catch (readError) {
        throw unavailable(
          this.url,
          `cannot check idempotency key: ${(readError as Error).message}`,
          readError,
        );
      }
      if (msg === false) throw err;
      return msg.content.toString();
    }
  }

  protected source(options: ProcessOptions): Source {
    return pushedSource({
      model: this.#model,
      queue: this.#queue,
      prefetch: options.concurrency ?? 1,
      declare: (channel) => this.#declare(channel),
      delivery: (channel, msg) => this.#delivery(channel, msg),
    });
  }

  #delivery(channel: Channel, msg: Message): Delivery {
    const h = msg.properties.headers ?? {};
    const id = String(h[H.id] ?? msg.properties.messageId ?? randomUUID());
    // A redelivery means its worker went away mid-job: that counts as an attempt.
    const attempt = Number(h[H.attempt] ?? 1) + (msg.fields.redelivered ? 1 : 0);
    const maxAttempts = Number(h[H.maxAttempts] ?? this.attempts);
    const backoffText = typeof h[H.backoff] === 'string' ? (h[H.backoff] as string) : undefined;
    const republish = (queue: string | ((c: Channel) => Promise<string>), headers: Record<string, unknown>) =>
      this.#send(queue, msg.content, {
        messageId: id,
        priority: msg.properties.priority ?? 0,
        headers: { ...h, ...headers },
      });
    const ack = () => {
      try {
        channel.ack(msg);
      } catch {
        // The channel is gone: the broker delivers the job again, and the copy just sent runs twice at worst.
      }
    };
    return {
      job: {
        id,
        queue: this.name,
        data: JSON.parse(msg.content.toString()),
        attempt,
        maxAttempts,
        createdAt: new Date(Number(h[H.created] ?? Date.now())),
        requestId: storedRequestId(h[H.requestId]),
      },
      backoff: backoffText ? (JSON.parse(backoffText) as Backoff) : this.backoff,
      timeoutMs: storedTimeout(h[H.timeout], this.jobTimeout),
      trace: () => (field) => traceValue(h[field]),
      complete: async () => ack(),
      retry: async (error, delayMs) => {
        await republish((c) => this.#delayQueue(c, delayMs), {
          [H.attempt]: attempt + 1,
          [H.lastError]: error.slice(0, 4096),
        });
        ack();
      },
      bury: async (error) => {
        await republish(this.#dead, {
          [H.attempt]: attempt,
          [H.lastError]: error.slice(0, 4096),
          [H.died]: Date.now(),
        });
        ack();
      },
      release: async () => {
        // Back to the queue as it came: this attempt does not count.
        await republish(this.#queue, { [H.attempt]: attempt });
        ack();
      },
    };
  }

  async dead(options: DeadListOptions = {}): Promise<DeadJob<T>[]> {
    const limit = this.deadLimit(options);
    const messages = await peekDead(this.#model, this.#dead, limit);
    return messages.map((msg) => deadJob<T>(msg, this.name, this.attempts));
  }

  async retryDead(id?: string): Promise<number> {
    this.checkOpen();
    return takeDead(
      this.#model,
      this.#dead,
      (msg) => id === undefined || deadId(msg) === id,
      async (msg) => {
        const h: Record<string, unknown> = { ...(msg.properties.headers ?? {}), [H.attempt]: 1 };
        delete h[H.lastError];
        delete h[H.died];
        await this.#send(this.#queue, msg.content, {
          messageId: String(h[H.id]),
          priority: msg.properties.priority ?? 0,
          headers: h,
        });
      },
    );
  }

  /** Deletes the queue and its delay and dead queues (tests and tooling; jobs in them are gone). */
  async destroy(): Promise<void> {
    const channel = await this.#publisher();
    const delays = [...this.#delayBuckets].map((b) => this.#names.delay(b));
    for (const name of [this.#queue, this.#dead, ...delays, ...this.#markers.keys()]) {
      await channel.deleteQueue(name).catch(() => undefined);
    }
  }

  protected async closeBackend(): Promise<void> {
    await this.#model.close().catch(() => undefined);
  }
}
