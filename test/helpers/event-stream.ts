/**
 * An event stream read one event at a time, on top of sse.ts's reader and parser: for tests that follow
 * a stream's events in order (the dashboard's history, then its samples).
 */
import type { IncomingHttpHeaders } from 'node:http';
import { openStream, type ParsedEvent, parseEvents } from './sse.ts';

export interface EventStream {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The whole body, once the response has ended (for a refusal: its JSON error). */
  body(): Promise<string>;
  /** The next event not yet returned; fails past `timeoutMs`, or if the stream ends first. */
  next(timeoutMs?: number): Promise<ParsedEvent>;
  /** Closes the connection, as a page that goes away. */
  close(): void;
}

/** Opens `path` on `port` as an EventSource would (its own connection). */
export async function openEventStream(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<EventStream> {
  const reader = await openStream(port, path, { accept: 'text/event-stream', ...headers });
  let taken = 0;
  const events = () => parseEvents(reader.text).events;
  return {
    status: reader.res.statusCode ?? 0,
    headers: reader.res.headers,
    async body() {
      await reader.until(() => reader.outcome !== 'open', 'the end of the body');
      return reader.text;
    },
    async next(timeoutMs = 5000) {
      await reader.until(() => events().length > taken || reader.outcome !== 'open', 'an event', timeoutMs);
      const event = events()[taken];
      if (event === undefined) throw new Error(`the stream ended (${reader.outcome}) after ${taken} events`);
      taken++;
      return event;
    },
    close: () => reader.close(),
  };
}
