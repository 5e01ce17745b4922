/**
 * The NATS JetStream job queue (the official client, loaded on first use). A queue is a work-queue
 * stream (`WEIR_<name>`, file storage) with one durable pull consumer; dead jobs go to a second stream
 * (`WEIR_<name>_DEAD`). What JetStream gives natively is used as it is: publish acks (`add()` resolves
 * on the stream's ack), de-duplication by message id within the stream's window (`idempotencyKey`),
 * redelivery after `ack_wait` (a killed worker's jobs come back), delayed redelivery (`nak(delay)`, the
 * retry backoff), and `working()` to extend a running job's deadline. JetStream has no priorities, and
 * keeps no per-job status: `get()` finds only dead jobs.
 */
import { reasonOf } from '../concurrency/signal.ts';
import { WeirError } from '../errors.ts';
import type { Logger } from '../http/context.ts';
import { loadPackage } from '../internal/load-package.ts';
import type { Backoff } from './backoff.ts';
import { BaseJobQueue, driverMissing, type JobQueueOptions, unavailable } from './base.ts';
import type { Delivery, Source } from './runner.ts';
import type { Added, AddOptions, JobCounts, JobInfo } from './types.ts';

// The slice of the NATS client weir uses, typed here so that the packages stay optional.
interface Headers {
  get(key: string): string;
  set(key: string, value: string): void;
}
interface JsMsg {
  readonly seq: number;
  readonly data: Uint8Array;
  readonly headers: Headers | undefined;
  readonly info: { deliveryCount: number; timestampNanos: number };
  ack(): void;
  ackAck(): Promise<boolean>;
  nak(millis?: number): void;
  working(): void;
  term(reason?: string): void;
}
interface StoredMsg {
  readonly seq: number;
  readonly data: Uint8Array;
  readonly header: Headers;
  readonly time: Date;
}
interface NatsConnection {
  close(): Promise<void>;
  status(): AsyncIterable<{ type: string }>;
}
interface JetStreamClient {
  publish(
    subject: string,
    data: Uint8Array,
    options?: { msgID?: string; headers?: Headers; timeout?: number },
  ): Promise<{ duplicate: boolean; seq: number }>;
  consumers: { get(stream: string, name?: string): Promise<PullConsumer> };
}
interface PullConsumer {
  fetch(options: { max_messages: number; expires: number }): Promise<AsyncIterable<JsMsg> & { stop(): void }>;
  info(): Promise<{ num_pending: number; num_ack_pending: number }>;
}
interface JetStreamManager {
  streams: {
    add(config: Record<string, unknown>): Promise<unknown>;
    update(name: string, config: Record<string, unknown>): Promise<unknown>;
    info(name: string): Promise<{ state: { messages: number; first_seq: number; last_seq: number } }>;
    getMessage(stream: string, query: { seq: number }): Promise<StoredMsg>;
    deleteMessage(stream: string, seq: number, erase?: boolean): Promise<boolean>;
    delete(name: string): Promise<boolean>;
  };
  consumers: { add(stream: string, config: Record<string, unknown>): Promise<unknown> };
}
interface NatsTransport {
  connect(options: Record<string, unknown>): Promise<NatsConnection>;
  headers(): Headers;
  nanos(millis: number): number;
}
interface NatsJetStream {
  jetstream(nc: NatsConnection): JetStreamClient;
  jetstreamManager(nc: NatsConnection): Promise<JetStreamManager>;
}

const H_ID = 'Weir-Job-Id';
const H_MAX = 'Weir-Max-Attempts';
const H_BACKOFF = 'Weir-Backoff';
const H_CREATED = 'Weir-Created';
const H_NOT_BEFORE = 'Weir-Not-Before';
/** Deliveries that did not count as attempts: `attempt = deliveryCount − base`. */
const H_BASE = 'Weir-Attempt-Base';
const H_ERROR = 'Weir-Last-Error';
const H_ATTEMPTS = 'Weir-Attempts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class NatsJobQueue<T = unknown> extends BaseJobQueue<T> {
  readonly backend = 'nats';
  readonly #nats: NatsTransport;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #stream: string;
  readonly #subject: string;
  readonly #deadStream: string;
  readonly #deadSubject: string;

  private constructor(
    name: string,
    url: string,
    parts: { nats: NatsTransport; nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager },
    options: JobQueueOptions,
    log: Logger,
  ) {
    super(name, url, options, log);
    this.#nats = parts.nats;
    this.#nc = parts.nc;
    this.#js = parts.js;
    this.#jsm = parts.jsm;
    const token = name.replace(/[^A-Za-z0-9_-]/g, '_');
    this.#stream = `WEIR_${token}`;
    this.#deadStream = `WEIR_${token}_DEAD`;
    this.#subject = `weir.jobs.${token}`;
    this.#deadSubject = `weir.dead.${token}`;
  }

  static async open<T>(
    name: string,
    url: string,
    shown: string,
    options: JobQueueOptions,
    log: Logger,
  ): Promise<NatsJobQueue<T>> {
    const nats = await loadPackage<NatsTransport>(
      '@nats-io/transport-node',
      'The NATS job queue',
      driverMissing,
    );
    const { jetstream, jetstreamManager } = await loadPackage<NatsJetStream>(
      '@nats-io/jetstream',
      'The NATS job queue',
      driverMissing,
    );
    const parsed = new URL(url);
    let nc: NatsConnection;
    try {
      nc = await nats.connect({
        servers: `${parsed.hostname}:${parsed.port || 4222}`,
        user: parsed.username ? decodeURIComponent(parsed.username) : undefined,
        pass: parsed.password ? decodeURIComponent(parsed.password) : undefined,
        name: `weir:${name}`,
        timeout: 3000,
        // Reconnect for ever once connected, with a capped wait: confirmed jobs live in the stream.
        reconnect: true,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
      });
    } catch (err) {
      throw unavailable(shown, (err as Error).message, err);
    }
    try {
      const jsm = await jetstreamManager(nc);
      const queue = new NatsJobQueue<T>(name, shown, { nats, nc, js: jetstream(nc), jsm }, options, log);
      await queue.#declare(options);
      void queue.#watch();
      return queue;
    } catch (err) {
      await nc.close().catch(() => undefined);
      if (err instanceof WeirError) throw err;
      throw unavailable(shown, `JetStream refused the queue's streams: ${(err as Error).message}`, err);
    }
  }

  async #declare(options: JobQueueOptions): Promise<void> {
    const nanos = this.#nats.nanos;
    const window = options.idempotencyWindowMs ?? 86_400_000;
    const streams: [string, Record<string, unknown>][] = [
      [
        this.#stream,
        {
          subjects: [this.#subject],
          retention: 'workqueue',
          storage: 'file',
          duplicate_window: nanos(window),
        },
      ],
      [this.#deadStream, { subjects: [this.#deadSubject], retention: 'limits', storage: 'file' }],
    ];
    for (const [name, config] of streams) {
      try {
        await this.#jsm.streams.add({ name, ...config });
      } catch {
        await this.#jsm.streams.update(name, config);
      }
    }
    await this.#jsm.consumers.add(this.#stream, {
      durable_name: 'weir',
      ack_policy: 'explicit',
      ack_wait: nanos(this.visibility),
      max_deliver: -1,
      max_ack_pending: 10_000,
      filter_subject: this.#subject,
    });
  }

  async #watch(): Promise<void> {
    for await (const status of this.#nc.status()) {
      if (status.type === 'disconnect')
        this.log.warn({ queue: this.name }, `job queue ${this.url}: disconnected, reconnecting`);
      if (status.type === 'reconnect')
        this.log.info({ queue: this.name }, `job queue ${this.url}: reconnected`);
    }
  }

  async add(data: T, options: AddOptions = {}): Promise<Added> {
    // Priorities are checked, and ignored: JetStream has none.
    const { id, text, attempts, delay, key, backoff } = this.prepareAdd(data, options);
    const h = this.#nats.headers();
    h.set(H_ID, id);
    h.set(H_MAX, String(attempts));
    h.set(H_CREATED, String(Date.now()));
    if (backoff !== undefined) h.set(H_BACKOFF, JSON.stringify(backoff));
    if (delay > 0) {
      h.set(H_NOT_BEFORE, String(Date.now() + delay));
      // The early delivery that waits out the delay is not an attempt.
      h.set(H_BASE, '1');
    }
    let ack: { duplicate: boolean; seq: number };
    try {
      ack = await this.#js.publish(this.#subject, encoder.encode(text), {
        msgID: key === undefined ? id : `key:${key}`,
        headers: h,
        timeout: 5000,
      });
    } catch (err) {
      throw unavailable(this.url, `the stream did not confirm the job: ${(err as Error).message}`, err);
    }
    if (ack.duplicate) {
      const original = await this.#jsm.streams
        .getMessage(this.#stream, { seq: ack.seq })
        .catch(() => undefined);
      return { id: original?.header.get(H_ID) || id, duplicate: true };
    }
    return { id, duplicate: false };
  }

  protected source(): Source {
    const deliveries = new WeakMap<Delivery, JsMsg>();
    let consumer: PullConsumer | undefined;
    return {
      take: async (max, signal) => {
        // One lookup per consumer, not per take: it is a round trip.
        consumer ??= await this.#js.consumers.get(this.#stream, 'weir');
        for (;;) {
          if (signal.aborted) throw reasonOf(signal);
          const batch = await consumer.fetch({ max_messages: max, expires: 1000 });
          const stop = () => batch.stop();
          signal.addEventListener('abort', stop, { once: true });
          const taken: Delivery[] = [];
          try {
            for await (const msg of batch) {
              const delivery = this.#delivery(msg);
              if (delivery === undefined) continue;
              deliveries.set(delivery, msg);
              taken.push(delivery);
            }
          } finally {
            signal.removeEventListener('abort', stop);
          }
          if (taken.length > 0) return taken;
        }
      },
      extend: async (running) => {
        for (const delivery of running) deliveries.get(delivery)?.working();
      },
      extendEveryMs: Math.max(Math.floor(this.visibility / 3), 10),
    };
  }

  /** The delivery for `msg`, or `undefined` when it arrived before its delay and was put back. */
  #delivery(msg: JsMsg): Delivery | undefined {
    const h = msg.headers;
    const notBefore = Number(h?.get(H_NOT_BEFORE) || 0);
    const wait = notBefore - Date.now();
    if (wait > 0) {
      msg.nak(wait);
      return undefined;
    }
    const base = Number(h?.get(H_BASE) || 0);
    const attempt = Math.max(1, msg.info.deliveryCount - base);
    const backoffText = h?.get(H_BACKOFF);
    const data = decoder.decode(msg.data);
    const id = h?.get(H_ID) || String(msg.seq);
    const maxAttempts = Number(h?.get(H_MAX) || this.attempts);
    return {
      job: {
        id,
        queue: this.name,
        data: JSON.parse(data),
        attempt,
        maxAttempts,
        createdAt: new Date(Number(h?.get(H_CREATED) || Date.now())),
      },
      backoff: backoffText ? (JSON.parse(backoffText) as Backoff) : this.backoff,
      complete: async () => {
        // A plain ack: an ack that is lost means the job runs again, which at-least-once allows, and
        // waiting for the server's reply to each one halved the throughput.
        msg.ack();
      },
      retry: async (_error, delayMs) => {
        msg.nak(delayMs);
      },
      bury: async (error) => {
        const dead = this.#nats.headers();
        dead.set(H_ID, id);
        dead.set(H_MAX, String(maxAttempts));
        dead.set(H_CREATED, h?.get(H_CREATED) || String(Date.now()));
        dead.set(H_ERROR, error.slice(0, 4096).replace(/[\r\n]+/g, ' '));
        dead.set(H_ATTEMPTS, String(attempt));
        if (backoffText) dead.set(H_BACKOFF, backoffText);
        await this.#js.publish(this.#deadSubject, msg.data, { headers: dead, timeout: 5000 });
        await msg.ackAck();
      },
      release: async () => {
        // A nak would count as a delivery: put back a copy that says so, then remove this one.
        const copy = this.#nats.headers();
        for (const name of [H_ID, H_MAX, H_CREATED, H_BACKOFF]) {
          const value = h?.get(name);
          if (value) copy.set(name, value);
        }
        copy.set(H_BASE, String(attempt - 1));
        await this.#js.publish(this.#subject, msg.data, { headers: copy, timeout: 5000 });
        await msg.ackAck();
      },
    };
  }

  async get(id: string): Promise<JobInfo<T> | undefined> {
    this.checkOpen();
    return (await this.#deadJobs(10_000)).find((job) => job.id === id);
  }

  async counts(): Promise<JobCounts> {
    this.checkOpen();
    const consumer = await this.#js.consumers.get(this.#stream, 'weir');
    const info = await consumer.info();
    const dead = await this.#jsm.streams.info(this.#deadStream);
    return {
      waiting: info.num_pending,
      active: info.num_ack_pending,
      failed: 0,
      completed: 0,
      dead: dead.state.messages,
    };
  }

  async #deadMessages(limit: number): Promise<StoredMsg[]> {
    const { state } = await this.#jsm.streams.info(this.#deadStream);
    const found: StoredMsg[] = [];
    for (
      let seq = state.first_seq;
      seq <= state.last_seq && found.length < limit && state.messages > 0;
      seq++
    ) {
      const msg = await this.#jsm.streams.getMessage(this.#deadStream, { seq }).catch(() => undefined);
      if (msg !== undefined) found.push(msg);
    }
    return found;
  }

  async #deadJobs(limit: number): Promise<JobInfo<T>[]> {
    return (await this.#deadMessages(limit)).map((msg) => ({
      id: msg.header.get(H_ID),
      queue: this.name,
      state: 'dead' as const,
      data: JSON.parse(decoder.decode(msg.data)) as T,
      attempts: Number(msg.header.get(H_ATTEMPTS) || 0),
      maxAttempts: Number(msg.header.get(H_MAX) || this.attempts),
      priority: 0,
      createdAt: new Date(Number(msg.header.get(H_CREATED) || 0)),
      runAt: msg.time,
      finishedAt: msg.time,
      lastError: msg.header.get(H_ERROR) || undefined,
      result: undefined,
    }));
  }

  async dead(options: { limit?: number } = {}): Promise<JobInfo<T>[]> {
    return this.#deadJobs(this.deadLimit(options));
  }

  async retryDead(id?: string): Promise<number> {
    this.checkOpen();
    let count = 0;
    for (const msg of await this.#deadMessages(100_000)) {
      if (id !== undefined && msg.header.get(H_ID) !== id) continue;
      const h = this.#nats.headers();
      for (const name of [H_ID, H_MAX, H_CREATED, H_BACKOFF]) {
        const value = msg.header.get(name);
        if (value) h.set(name, value);
      }
      await this.#js.publish(this.#subject, msg.data, { headers: h, timeout: 5000 });
      await this.#jsm.streams.deleteMessage(this.#deadStream, msg.seq, false);
      count++;
    }
    return count;
  }

  /** Deletes the queue's streams (tests and tooling; jobs in them are gone). */
  async destroy(): Promise<void> {
    await this.#jsm.streams.delete(this.#stream).catch(() => false);
    await this.#jsm.streams.delete(this.#deadStream).catch(() => false);
  }

  protected async closeBackend(): Promise<void> {
    await this.#nc.close();
  }
}
