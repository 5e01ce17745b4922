/**
 * The slice of the NATS client (`@nats-io/transport-node`, `@nats-io/jetstream`) that the NATS job queue
 * uses, typed here so that the packages stay optional peers, and the headers weir puts on a job's message.
 */
export interface Headers {
  get(key: string): string;
  set(key: string, value: string): void;
}
export interface JsMsg {
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
export interface StoredMsg {
  readonly seq: number;
  readonly data: Uint8Array;
  readonly header: Headers;
  readonly time: Date;
}
export interface NatsConnection {
  close(): Promise<void>;
  status(): AsyncIterable<{ type: string }>;
}
export interface JetStreamClient {
  publish(
    subject: string,
    data: Uint8Array,
    options?: { msgID?: string; headers?: Headers; timeout?: number },
  ): Promise<{ duplicate: boolean; seq: number }>;
  consumers: { get(stream: string, name?: string): Promise<PullConsumer> };
}
export interface PullConsumer {
  fetch(options: { max_messages: number; expires: number }): Promise<AsyncIterable<JsMsg> & { stop(): void }>;
  info(): Promise<{ num_pending: number; num_ack_pending: number }>;
}
export interface JetStreamManager {
  streams: {
    add(config: Record<string, unknown>): Promise<unknown>;
    update(name: string, config: Record<string, unknown>): Promise<unknown>;
    info(name: string): Promise<{
      config: { subjects?: string[] };
      state: { messages: number; first_seq: number; last_seq: number };
    }>;
    /** `null` when no message matches. */
    getMessage(
      stream: string,
      query: { seq: number; next_by_subj?: string } | { last_by_subj: string },
    ): Promise<StoredMsg | null>;
    deleteMessage(stream: string, seq: number, erase?: boolean): Promise<boolean>;
    delete(name: string): Promise<boolean>;
  };
  consumers: { add(stream: string, config: Record<string, unknown>): Promise<unknown> };
}
export interface NatsTransport {
  connect(options: Record<string, unknown>): Promise<NatsConnection>;
  headers(): Headers;
  nanos(millis: number): number;
}
export interface NatsJetStream {
  jetstream(nc: NatsConnection): JetStreamClient;
  jetstreamManager(nc: NatsConnection): Promise<JetStreamManager>;
}

/** The headers a job's message carries. */
export const H = {
  id: 'Weir-Job-Id',
  maxAttempts: 'Weir-Max-Attempts',
  /** The job's own backoff, as JSON. */
  backoff: 'Weir-Backoff',
  /** The job's own jobTimeoutMs. */
  timeout: 'Weir-Timeout',
  /** When it was added, ms since the epoch. */
  created: 'Weir-Created',
  /** The id of the request that added it, when it has one. */
  requestId: 'Weir-Request-Id',
  /** Not to run before, ms since the epoch (`delay`). */
  notBefore: 'Weir-Not-Before',
  /** Deliveries that did not count as attempts: `attempt = deliveryCount − base`. */
  base: 'Weir-Attempt-Base',
  /** Dead jobs: the last attempt's error, and how many attempts it had. */
  lastError: 'Weir-Last-Error',
  attempts: 'Weir-Attempts',
  /** A dead job moved from another stream: when it died, ms since the epoch (the stream's stamp is the move's). */
  died: 'Weir-Died',
} as const;

/**
 * The trace context fields copied with a job when it is published again (given back, dead-lettered,
 * re-queued): W3C Trace Context and Baggage. Those of another propagator travel with the job when it is
 * added and run, but not across a copy.
 */
export const TRACE_HEADERS = ['traceparent', 'tracestate', 'baggage'] as const;

/** The headers that make a job what it is, copied whenever it is published again. */
export const JOB_HEADERS = [
  H.id,
  H.maxAttempts,
  H.created,
  H.backoff,
  H.timeout,
  H.requestId,
  ...TRACE_HEADERS,
] as const;
