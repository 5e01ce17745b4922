/**
 * NATS's dead-letter list: a stream with `limits` retention that keeps each dead job as a message. Reading
 * it walks the stream by subject (`next_by_subj`), so the server skips the gaps that re-queued jobs leave
 * and a read costs one round trip per dead job, whatever was deleted before it.
 */
import { H, type JetStreamManager, type StoredMsg } from './nats-driver.ts';
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
    // The stream stamps each message when it is stored: when the job was dead-lettered.
    finishedAt: msg.time,
    lastError: msg.header.get(H.lastError) || undefined,
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
