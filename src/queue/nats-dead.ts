/**
 * NATS's dead-letter list: a stream with `limits` retention that keeps each dead job as a message. Reading
 * it walks the stream by subject (`next_by_subj`), so the server skips the gaps that re-queued jobs leave
 * and a read costs one round trip per dead job, whatever was deleted before it.
 */
import type { Logger } from '../internal/logger.ts';
import { storedRequestId } from './base.ts';
import type { natsNames } from './names.ts';
import {
  H,
  type Headers,
  type JetStreamClient,
  type JetStreamManager,
  JOB_HEADERS,
  type StoredMsg,
} from './nats-driver.ts';
import { streamSubjects } from './nats-streams.ts';
import type { DeadJob } from './types.ts';

const decoder = new TextDecoder();

/** A dead message as the dead-letter list shows it. */
export function deadJob<T>(msg: StoredMsg, queue: string, defaultMaxAttempts: number): DeadJob<T> {
  return {
    id: msg.header.get(H.id),
    queue,
    data: JSON.parse(decoder.decode(msg.data)) as T,
    attempts: Number(msg.header.get(H.attempts) || 0),
    maxAttempts: Number(msg.header.get(H.maxAttempts) || defaultMaxAttempts),
    createdAt: new Date(Number(msg.header.get(H.created) || 0)),
    // The stream stamps each message when it is stored: when the job was dead-lettered, unless it was
    // moved here later, which records the first time.
    finishedAt: msg.header.get(H.died) ? new Date(Number(msg.header.get(H.died))) : msg.time,
    lastError: msg.header.get(H.lastError) || undefined,
    requestId: storedRequestId(msg.header.get(H.requestId)),
  };
}

/**
 * The messages of `stream` on `subject` (a filter), oldest first, up to `limit`, and none stored after
 * the call began (so that a walk that re-queues as it goes ends).
 */
export async function* deadMessages(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  limit: number,
): AsyncGenerator<StoredMsg> {
  const { state } = await jsm.streams.info(stream);
  let seq = state.first_seq;
  for (let n = 0; n < limit && state.messages > 0 && seq <= state.last_seq; n++) {
    const msg = await jsm.streams.getMessage(stream, { seq, next_by_subj: subject });
    if (msg === null || msg.seq > state.last_seq) return;
    yield msg;
    seq = msg.seq + 1;
  }
}

/** The headers a dead job keeps when it moves. */
const KEPT = [...JOB_HEADERS, H.lastError, H.attempts, H.died] as const;

/**
 * Moves the dead letters an earlier weir kept for this queue (stream `WEIR_<name>_DEAD`, subject
 * `weir.dead.<name>`, a name that queue `<name>_DEAD` collided with) into its dead-letter stream, then
 * deletes the old stream. A stream of that name with other subjects is not ours and is left alone.
 * Two processes moving at once do not double a job: each copy carries the old sequence number as its
 * message id, which the stream de-duplicates.
 */
export async function adoptLegacyDeadLetters(
  client: { jsm: JetStreamManager; js: JetStreamClient; headers(): Headers },
  names: ReturnType<typeof natsNames>,
  log: Logger,
): Promise<void> {
  const { jsm, js } = client;
  const subjects = await streamSubjects(jsm, names.legacyDeadStream);
  if (subjects?.length !== 1 || subjects[0] !== names.legacyDeadSubject) return;
  let moved = 0;
  const all = deadMessages(jsm, names.legacyDeadStream, names.legacyDeadSubject, Number.POSITIVE_INFINITY);
  for await (const msg of all) {
    const h = client.headers();
    for (const name of KEPT) {
      const value = msg.header.get(name);
      if (value) h.set(name, value);
    }
    if (!msg.header.get(H.died)) h.set(H.died, String(msg.time.getTime()));
    await js.publish(names.deadSubject(msg.header.get(H.id) || String(msg.seq)), msg.data, {
      headers: h,
      msgID: `${names.legacyDeadStream}:${msg.seq}`,
      timeout: 5000,
    });
    await jsm.streams.deleteMessage(names.legacyDeadStream, msg.seq, false).catch(() => false);
    moved++;
  }
  await jsm.streams.delete(names.legacyDeadStream).catch(() => false);
  log.info(
    { stream: names.legacyDeadStream, moved },
    `job queue: moved ${moved} dead jobs from ${names.legacyDeadStream} to ${names.deadStream}`,
  );
}
