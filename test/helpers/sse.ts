import { type IncomingMessage, request } from 'node:http';

/** An event as a browser's EventSource dispatches it. */
export interface ParsedEvent {
  type: string;
  data: string;
  lastEventId: string;
}

/**
 * Parses a `text/event-stream` as the WHATWG parser does (HTML §9.2.6): lines end at CRLF, CR or LF;
 * `:` lines are comments; a blank line dispatches. Returns the dispatched events, the last `retry`, and
 * the number of comment lines.
 */
export function parseEvents(text: string): { events: ParsedEvent[]; retry?: number; comments: number } {
  const events: ParsedEvent[] = [];
  let retry: number | undefined;
  let comments = 0;
  let type = '';
  let data = '';
  let lastEventId = '';
  const lines = text.split(/\r\n|\r|\n/);
  // The last piece is an unterminated line: not parsed yet.
  lines.pop();
  for (const line of lines) {
    if (line === '') {
      if (data !== '') events.push({ type: type || 'message', data: data.slice(0, -1), lastEventId });
      type = '';
      data = '';
      continue;
    }
    if (line.startsWith(':')) {
      comments++;
      continue;
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data += `${value}\n`;
    else if (field === 'id' && !value.includes('\0')) lastEventId = value;
    else if (field === 'retry' && /^\d+$/.test(value)) retry = Number(value);
  }
  return { events, retry, comments };
}

/** A client reading an event stream as it arrives. */
export interface StreamReader {
  readonly res: IncomingMessage;
  /** Everything received so far, as text. */
  readonly text: string;
  /** `end` once the body ended cleanly, `aborted` once the connection closed before that. */
  readonly outcome: 'open' | 'end' | 'aborted';
  /** Resolves once `test()` holds (checked on each chunk and at the end), fails past `timeoutMs`. */
  until(test: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): void;
}

/** Opens `path` on the server with node:http (its own connection) and reads the stream as it comes. */
export function openStream(
  port: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<StreamReader> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let text = '';
      let outcome: 'open' | 'end' | 'aborted' = 'open';
      const waiters = new Set<() => void>();
      const wake = (): void => {
        for (const w of waiters) w();
      };
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        wake();
      });
      res.on('end', () => {
        outcome = 'end';
        wake();
      });
      res.on('error', () => {});
      res.on('close', () => {
        if (outcome === 'open') outcome = 'aborted';
        wake();
      });
      resolve({
        res,
        get text() {
          return text;
        },
        get outcome() {
          return outcome;
        },
        until(test, what, timeoutMs = 5000) {
          if (test()) return Promise.resolve();
          return new Promise<void>((done, fail) => {
            const check = (): void => {
              if (!test()) return;
              clearTimeout(timer);
              waiters.delete(check);
              done();
            };
            const timer = setTimeout(() => {
              waiters.delete(check);
              fail(
                new Error(
                  `${what}: not within ${timeoutMs} ms; received ${JSON.stringify(text.slice(-300))}`,
                ),
              );
            }, timeoutMs);
            waiters.add(check);
          });
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}
