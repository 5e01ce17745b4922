/**
 * `openJobQueue(name, { url })`: the one place a URL picks a backend.
 */

import { WeirError } from '../errors.ts';
import type { Logger } from '../internal/logger.ts';
import { redactUrl } from '../internal/url.ts';
import { AmqpJobQueue } from './amqp.ts';
import { type JobQueueOptions, settleQueueOptions } from './base.ts';
import { checkQueueName } from './names.ts';
import { NatsJobQueue } from './nats.ts';
import { SqliteJobQueue } from './sqlite.ts';
import type { JobQueue } from './types.ts';

/** The queue weir opens when no URL is given (and `QUEUE_URL` is unset). */
export const DEFAULT_QUEUE_URL = 'sqlite:./data/queue.db';

/** Options of {@link openJobQueue}. */
export interface OpenJobQueueOptions extends JobQueueOptions {
  /** `sqlite:PATH`, else `QUEUE_URL`, else `sqlite:./data/queue.db`. */
  url?: string;
}

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {} };

/**
 * Opens the durable job queue `name` on the backend its URL names: `sqlite:PATH` (embedded, shared
 * safely by several processes), `amqp://user:password@host:5672` (RabbitMQ) or `nats://host:4222`
 * (NATS JetStream). The queue offers what every backend keeps (`add`, `process`, `close`); what only
 * some keep is in `queue.capabilities`, reached through `hasJobStatus(queue)` and `hasDeadLetters(queue)`.
 * Given a literal `sqlite:` URL it is typed as the SQLite queue, which has every capability.
 * @throws `WEIR_ERR_JOBS_URL` for a URL with an unknown scheme; `WEIR_ERR_INVALID_OPTION` for a bad name (1 to 100 letters,
 * digits, `_` or `-`; not `.`); `WEIR_ERR_JOBS_NAME_TAKEN` when a NATS stream of that name is not this queue's.
 * @example
 * const emails = await openJobQueue<{ to: string }>('emails', { url: process.env.QUEUE_URL });
 * await emails.add({ to: 'ada@example.com' }, { attempts: 5 });
 * emails.process(async (job, { signal }) => send(job.data.to, { signal }), { concurrency: 8 });
 * if (hasDeadLetters(emails)) await emails.retryDead();
 */
export function openJobQueue<T = unknown>(
  name: string,
  options: OpenJobQueueOptions & { url: `sqlite:${string}` },
): Promise<SqliteJobQueue<T>>;
export function openJobQueue<T = unknown>(name: string, options?: OpenJobQueueOptions): Promise<JobQueue<T>>;
export async function openJobQueue<T = unknown>(
  name: string,
  options: OpenJobQueueOptions = {},
): Promise<JobQueue<T>> {
  checkQueueName(name);
  settleQueueOptions(options);
  const url = options.url || process.env.QUEUE_URL || DEFAULT_QUEUE_URL;
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0].toLowerCase();
  const shown = redactUrl(url);
  const log = options.logger ?? silent;
  if (scheme === 'sqlite:') return SqliteJobQueue.open<T>(name, url, shown, options, log);
  if (scheme === 'nats:') return NatsJobQueue.open<T>(name, url, shown, options, log);
  if (scheme === 'amqp:' || scheme === 'amqps:') return AmqpJobQueue.open<T>(name, url, shown, options, log);
  throw new WeirError(
    'WEIR_ERR_JOBS_URL',
    `Queue URL ${JSON.stringify(shown)} names no supported backend: use sqlite:PATH, amqp://host:5672 or nats://host:4222`,
  );
}
