/**
 * The slice of amqplib that the RabbitMQ job queue uses, typed here so that the package stays an
 * optional peer, and the headers weir puts on a job's message.
 */
export interface Message {
  content: Buffer;
  fields: { deliveryTag: number; redelivered: boolean };
  properties: {
    headers?: Record<string, unknown>;
    messageId?: string;
    priority?: number;
    timestamp?: number;
  };
}
export interface PublishOptions {
  persistent?: boolean;
  messageId?: string;
  priority?: number;
  headers?: Record<string, unknown>;
  contentType?: string;
  timestamp?: number;
}
export interface Channel {
  assertQueue(queue: string, options?: Record<string, unknown>): Promise<{ messageCount: number }>;
  checkQueue(queue: string): Promise<{ messageCount: number; consumerCount: number }>;
  deleteQueue(queue: string): Promise<unknown>;
  sendToQueue(
    queue: string,
    content: Buffer,
    options: PublishOptions,
    callback: (err: unknown) => void,
  ): boolean;
  consume(
    queue: string,
    onMessage: (msg: Message | null) => void,
    options?: { noAck?: boolean },
  ): Promise<{ consumerTag: string }>;
  cancel(consumerTag: string): Promise<unknown>;
  get(queue: string, options?: { noAck?: boolean }): Promise<Message | false>;
  ack(msg: Message): void;
  nack(msg: Message, allUpTo?: boolean, requeue?: boolean): void;
  prefetch(count: number): Promise<unknown>;
  close(): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}
export interface Model {
  createConfirmChannel(): Promise<Channel>;
  close(): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}
export interface Amqplib {
  connect(url: string, options: Record<string, unknown>): Promise<Model>;
}

/** The headers a job's message carries. */
export const H = {
  id: 'x-weir-id',
  /** The attempt this delivery is (before a redelivery adds one). */
  attempt: 'x-weir-attempt',
  maxAttempts: 'x-weir-max-attempts',
  /** The job's own backoff, as JSON. */
  backoff: 'x-weir-backoff',
  /** The job's own jobTimeoutMs. */
  timeout: 'x-weir-timeout',
  /** When it was added, ms since the epoch. */
  created: 'x-weir-created',
  /** The id of the request that added it, when it has one. */
  requestId: 'x-weir-request-id',
  /** When it was dead-lettered, ms since the epoch. */
  died: 'x-weir-died',
  lastError: 'x-weir-last-error',
} as const;
