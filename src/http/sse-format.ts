/**
 * The `text/event-stream` wire format (WHATWG HTML §9.2.6), written so that no value can start a field
 * or an event of its own: data is split on every line break the parser knows (CRLF, lone CR, lone LF)
 * into `data:` lines, and an event name or id that holds one is refused.
 */

/** One event of a Server-Sent Events stream. */
export interface SseEvent {
  /**
   * The payload. A string is sent as it is, one `data:` line per line of it (CRLF, CR and LF all break
   * lines); anything else as its JSON text, on one line. `undefined`: no `data:` line (an event that only
   * sets `id` or `retry`, which a browser does not dispatch).
   */
  data: unknown;
  /** The event's type, `message` when absent. @throws TypeError when it holds CR or LF. */
  event?: string;
  /**
   * The id the client sends back in `Last-Event-ID` when it reconnects.
   * @throws TypeError when it holds CR, LF or NUL.
   */
  id?: string;
  /** How long the client waits before reconnecting, in ms. @throws TypeError unless an integer ≥ 0. */
  retry?: number;
}

const LINE_BREAK = /\r\n|\r|\n/;
const HAS_LINE_BREAK = /[\r\n]/;
const BAD_ID = /[\r\n\0]/;

/** The longest `Last-Event-ID` believed; a longer one is treated as absent. */
export const MAX_LAST_EVENT_ID = 1024;

/**
 * An event as it goes on the wire, ending with the blank line that dispatches it. A string is an event
 * with that data.
 * @throws TypeError for an event that cannot be written safely (see {@link SseEvent}).
 */
export function formatEvent(event: SseEvent | string): string {
  if (typeof event === 'string') return `${dataLines(event)}\n`;
  if (typeof event !== 'object' || event === null) {
    throw new TypeError(`An SSE event is a string or an object with data, not ${typeof event}`);
  }
  let out = '';
  const type = event.event;
  if (type !== undefined) {
    if (typeof type !== 'string' || HAS_LINE_BREAK.test(type)) {
      throw new TypeError('An SSE event name must be a string without CR or LF');
    }
    out += `event: ${type}\n`;
  }
  const id = event.id;
  if (id !== undefined) {
    if (typeof id !== 'string' || BAD_ID.test(id)) {
      throw new TypeError('An SSE event id must be a string without CR, LF or NUL');
    }
    out += `id: ${id}\n`;
  }
  const retry = event.retry;
  if (retry !== undefined) {
    if (!Number.isSafeInteger(retry) || retry < 0) {
      throw new TypeError('An SSE retry must be an integer number of milliseconds, 0 or more');
    }
    out += `retry: ${retry}\n`;
  }
  const data = event.data;
  if (typeof data === 'string') out += dataLines(data);
  else if (data !== undefined) out += `data: ${jsonData(data)}\n`;
  return `${out}\n`;
}

/**
 * `data:` lines for `text`. The space after the colon is the one the parser strips, so data that starts
 * with a space keeps it.
 */
function dataLines(text: string): string {
  if (!HAS_LINE_BREAK.test(text)) return `data: ${text}\n`;
  let out = '';
  for (const line of text.split(LINE_BREAK)) out += `data: ${line}\n`;
  return out;
}

/** JSON text never holds a raw CR or LF (they are escaped), so it is always one `data:` line. */
function jsonData(data: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw new TypeError(`SSE event data cannot be serialised as JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (text === undefined) throw new TypeError(`SSE event data of type ${typeof data} has no JSON form`);
  return text;
}

/**
 * The request's `Last-Event-ID`, or `undefined` when it is absent or unusable: longer than
 * {@link MAX_LAST_EVENT_ID} characters, or holding CR, LF or NUL (no id weir writes can hold them).
 */
export function lastEventIdOf(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string' || value.length > MAX_LAST_EVENT_ID || BAD_ID.test(value)) return undefined;
  return value;
}
