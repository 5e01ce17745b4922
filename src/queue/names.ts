/**
 * Queue names, and the names of what a queue is made of on a broker. A queue name is 1 to 100 letters,
 * digits, `_` and `-`; it never holds a `.`, which weir keeps as the separator of the names it derives.
 * So each mapping below is injective: no two queue names share a broker queue, a stream or a subject,
 * and no queue's name is another queue's dead-letter, delay or marker queue.
 *
 * - RabbitMQ: `weir.<name>` (jobs), `weir.<name>.dead`, `weir.<name>.delay.<ms>`, `weir.<name>.key.<hash>`.
 *   The first part after `weir.` is the whole name, and only the jobs queue has no second part.
 * - NATS: streams `WEIR_<name>` (jobs) and `WEIR-DEAD_<name>` (dead letters: the fifth character tells
 *   them apart); subjects `weir.jobs.<name>` and `weir.dead.<name>.<job id>`.
 * - SQLite: the name itself, in the `queue` column.
 */
import { createHash } from 'node:crypto';
import { describe, WeirError } from '../errors.ts';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/** `name`, checked. @throws `WEIR_ERR_INVALID_OPTION` */
export function checkQueueName(name: unknown): string {
  if (typeof name === 'string' && NAME.test(name)) return name;
  const shown =
    typeof name === 'string'
      ? JSON.stringify(name.length > 100 ? `${name.slice(0, 100)}…` : name)
      : describe(name);
  const dotted = typeof name === 'string' && name.includes('.');
  throw new WeirError(
    'WEIR_ERR_INVALID_OPTION',
    `Job queue name must be 1 to 100 letters, digits, "_" or "-" (not first), received ${shown}` +
      (dotted
        ? `: "." is weir's separator on the brokers; use "-" or "_" (a queue that had this name moves as the README's "Queue names" says)`
        : ''),
  );
}

/** What a queue is made of on RabbitMQ. */
export function amqpNames(name: string) {
  const main = `weir.${name}`;
  return {
    main,
    dead: `${main}.dead`,
    delay: (bucketMs: number) => `${main}.delay.${bucketMs}`,
    /** The marker queue of an idempotency key. */
    key: (key: string) => `${main}.key.${createHash('sha256').update(key).digest('base64url')}`,
  };
}

const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

/** What a queue is made of on NATS JetStream. */
export function natsNames(name: string) {
  return {
    stream: `WEIR_${name}`,
    subject: `weir.jobs.${name}`,
    deadStream: `WEIR-DEAD_${name}`,
    /** Every dead job's subject. */
    deadSubjects: `weir.dead.${name}.*`,
    /**
     * A dead job's subject, so that one is found by its id. weir's ids are UUIDs; any other id is hashed
     * into a token (a `.` or a `*` would change what the subject matches), after a `~`, which no id
     * kept as it is has.
     */
    deadSubject: (id: string) =>
      `weir.dead.${name}.${TOKEN.test(id) ? id : `~${createHash('sha256').update(id).digest('base64url')}`}`,
    /** Where weir before these names kept the queue's dead letters (the name `_DEAD` could collide with). */
    legacyDeadStream: `WEIR_${name}_DEAD`,
    legacyDeadSubject: `weir.dead.${name}`,
  };
}
