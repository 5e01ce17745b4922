import { once } from 'node:events';
import { type IncomingMessage, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { App, Logger, ServerHandle } from 'weir';
import { serve } from './http.ts';

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

/** A line a test's logger received. */
export type Line = { level: string; obj: Record<string, unknown>; msg: string | undefined };

/** A logger that keeps every line, for asserting what was logged. */
export function captureLog(): { logger: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (obj: unknown, msg?: string) =>
    lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { logger: { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }, lines };
}

/** Runs `run` against `app` listening on an ephemeral port, then closes it. */
export async function withServer(app: App, run: (handle: ServerHandle) => Promise<void>): Promise<void> {
  const handle = await serve(app);
  try {
    await run(handle);
  } finally {
    await handle.close({ timeoutMs: 1000 });
  }
}

/** A raw connection that sends a GET and then reads nothing: its kernel buffer fills, then the server's. */
export async function neverReading(port: number, path: string): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  socket.on('error', () => {});
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
  return socket;
}

/** Polls `value()` every 25 ms until it stops changing for 8 polls (at most 400 polls). */
export async function settled(value: () => number): Promise<number> {
  let last = -1;
  let same = 0;
  for (let i = 0; i < 400 && same < 8; i++) {
    const now = value();
    same = now === last ? same + 1 : 0;
    last = now;
    await sleep(25);
  }
  return last;
}
