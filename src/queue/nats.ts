/**
 * The NATS JetStream job queue (the official client, loaded on first use). A queue is a work-queue
 * stream (`WEIR_<name>`, file storage) with one durable pull consumer; dead jobs go to a second stream
 * (`WEIR-DEAD_<name>`, one subject per job, so that one is found by its id; `names.ts` says why no two
 * queue names share a stream). What JetStream gives natively is used as it is: publish acks (`add()`
 * resolves on the stream's ack), de-duplication by message id within the stream's window
 * (`idempotencyKey`), redelivery after `ack_wait` (a killed worker's jobs come back), delayed redelivery
 * (`nak(delay)`, the retry backoff), and `working()` to extend a running job's deadline.
 */
import { WeirError } from '../errors.ts';
import { loadPackage } from '../internal/load-package.ts';
import type { Logger } from '../internal/logger.ts';
import { traceValue } from '../internal/trace.ts';
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
import { natsNames } from './names.ts';
import { adoptLegacyDeadLetters, deadJob, deadMessages } from './nats-dead.ts';
import {
  H,
  type JetStreamClient,
  type JetStreamManager,
  JOB_HEADERS,
  type JsMsg,
  type NatsConnection,
  type NatsJetStream,
  type NatsTransport,
  type StoredMsg,
  TRACE_HEADERS,
} from './nats-driver.ts';
import { pulledSource } from './nats-source.ts';
import { declareStream } from './nats-streams.ts';
import type { Delivery, Source } from './runner.ts';
import type { Added, DeadJob, DeadLetters, DeadListOptions, JobQueue } from './types.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The NATS JetStream job queue. A work-queue stream forgets a job once it is acknowledged and does not
 * tell a running job from one waiting for its retry, so there is no job status; the dead-letter list is a
 * stream; JetStream has no priorities.
 */
export class NatsJobQueue<T = unknown> extends BaseJobQueue<T> implements JobQueue<T>, DeadLetters<T> {
  readonly backend = 'nats';
  readonly capabilities = { status: false, deadLetters: true, priority: false } as const;
  readonly #nats: NatsTransport;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #names: ReturnType<typeof natsNames>;
  readonly #stream: string;
  readonly #subject: string;
  readonly #deadStream: string;

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
    this.#names = natsNames(name);
    this.#stream = this.#names.stream;
    this.#deadStream = this.#names.deadStream;
    this.#subject = this.#names.subject;
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
      await adoptLegacyDeadLetters({ jsm, js: queue.#js, headers: nats.headers }, queue.#names, log);
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
    await declareStream(this.#jsm, this.#stream, {
      subjects: [this.#subject],
      retention: 'workqueue',
      storage: 'file',
      duplicate_window: nanos(window),
    });
    await declareStream(this.#jsm, this.#deadStream, {
      subjects: [this.#names.deadSubjects],
      retention: 'limits',
      storage: 'file',
    });
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

  protected async enqueue(job: PreparedAdd): Promise<Added> {
    // Priorities are checked, and ignored: JetStream has none.
    const { id, text, attempts, delay, key, backoff, timeout, requestId, trace } = job;
    const h = this.#nats.headers();
    h.set(H.id, id);
    h.set(H.maxAttempts, String(attempts));
    h.set(H.created, String(Date.now()));
    if (backoff !== undefined) h.set(H.backoff, JSON.stringify(backoff));
    if (timeout !== undefined) h.set(H.timeout, String(timeout));
    if (requestId !== undefined) h.set(H.requestId, requestId);
    // The trace context as headers of their own (`traceparent` …), where other tracers look for it too.
    if (trace !== undefined) for (const [name, value] of trace) h.set(name, value);
    if (delay > 0) {
      h.set(H.notBefore, String(Date.now() + delay));
      // The early delivery that waits out the delay is not an attempt.
      h.set(H.base, '1');
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
      return { id: original?.header.get(H.id) || id, duplicate: true };
    }
    return { id, duplicate: false };
  }

  protected source(): Source {
    return pulledSource({
      consumer: () => this.#js.consumers.get(this.#stream, 'weir'),
      delivery: (msg) => this.#delivery(msg),
      extendEveryMs: Math.max(Math.floor(this.visibility / 3), 10),
    });
  }

  /** The delivery for `msg`, or `undefined` when it arrived before its delay and was put back. */
  #delivery(msg: JsMsg): Delivery | undefined {
    const h = msg.headers;
    const notBefore = Number(h?.get(H.notBefore) || 0);
    const wait = notBefore - Date.now();
    if (wait > 0) {
      msg.nak(wait);
      return undefined;
    }
    const base = Number(h?.get(H.base) || 0);
    const attempt = Math.max(1, msg.info.deliveryCount - base);
    const backoffText = h?.get(H.backoff);
    const data = decoder.decode(msg.data);
    const id = h?.get(H.id) || String(msg.seq);
    const maxAttempts = Number(h?.get(H.maxAttempts) || this.attempts);
    const requestId = storedRequestId(h?.get(H.requestId));
    return {
      job: {
        id,
        queue: this.name,
        data: JSON.parse(data),
        attempt,
        maxAttempts,
        createdAt: new Date(Number(h?.get(H.created) || Date.now())),
        requestId,
      },
      backoff: backoffText ? (JSON.parse(backoffText) as Backoff) : this.backoff,
      timeoutMs: storedTimeout(h?.get(H.timeout) || undefined, this.jobTimeout),
      trace: () => (h === undefined ? undefined : (field) => traceValue(h.get(field))),
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
        dead.set(H.id, id);
        dead.set(H.maxAttempts, String(maxAttempts));
        dead.set(H.created, h?.get(H.created) || String(Date.now()));
        dead.set(H.lastError, error.slice(0, 4096).replace(/[\r\n]+/g, ' '));
        dead.set(H.attempts, String(attempt));
        if (backoffText) dead.set(H.backoff, backoffText);
        const timeoutText = h?.get(H.timeout);
        if (timeoutText) dead.set(H.timeout, timeoutText);
        if (requestId !== undefined) dead.set(H.requestId, requestId);
        for (const name of TRACE_HEADERS) {
          const value = h?.get(name);
          if (value) dead.set(name, value);
        }
        await this.#js.publish(this.#names.deadSubject(id), msg.data, { headers: dead, timeout: 5000 });
        await msg.ackAck();
      },
      release: async () => {
        // A nak would count as a delivery: put back a copy that says so, then remove this one.
        const copy = this.#nats.headers();
        for (const name of JOB_HEADERS) {
          const value = h?.get(name);
          if (value) copy.set(name, value);
        }
        copy.set(H.base, String(attempt - 1));
        await this.#js.publish(this.#subject, msg.data, { headers: copy, timeout: 5000 });
        await msg.ackAck();
      },
    };
  }

  async dead(options: DeadListOptions = {}): Promise<DeadJob<T>[]> {
    const limit = this.deadLimit(options);
    const jobs: DeadJob<T>[] = [];
    for await (const msg of deadMessages(this.#jsm, this.#deadStream, this.#names.deadSubjects, limit)) {
      jobs.push(deadJob<T>(msg, this.name, this.attempts));
    }
    return jobs;
  }

  /** Puts one dead job back: found by its subject, so without reading the others. */
  async retryDead(id?: string): Promise<number> {
    this.checkOpen();
    if (id === undefined) {
      let count = 0;
      const all = deadMessages(
        this.#jsm,
        this.#deadStream,
        this.#names.deadSubjects,
        Number.POSITIVE_INFINITY,
      );
      for await (const msg of all) count += await this.#requeue(msg);
      return count;
    }
    if (typeof id !== 'string') return 0;
    const subject = this.#names.deadSubject(id);
    let count = 0;
    // A job delivered twice (at least once) may have died twice: each copy goes back.
    for (let i = 0; i < 100; i++) {
      const msg = await this.#jsm.streams.getMessage(this.#deadStream, { last_by_subj: subject });
      if (msg === null) break;
      if (msg.header.get(H.id) !== id) break;
      count += await this.#requeue(msg);
    }
    return count;
  }

  /** Publishes a dead job back to the queue, attempts reset, then deletes it from the dead letters. */
  async #requeue(msg: StoredMsg): Promise<number> {
    const h = this.#nats.headers();
    for (const name of JOB_HEADERS) {
      const value = msg.header.get(name);
      if (value) h.set(name, value);
    }
    await this.#js.publish(this.#subject, msg.data, { headers: h, timeout: 5000 });
    await this.#jsm.streams.deleteMessage(this.#deadStream, msg.seq, false);
    return 1;
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
