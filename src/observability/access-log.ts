/**
 * The access log: one line per request, written when its response closes, from the `weir:http.request`
 * channel (so an app without it pays nothing). Requests the overload limiter sheds are counted and
 * reported in one line per interval, never one line each: a flood must not become a flood of log lines.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { pino } from 'pino';
import { invalidOption } from '../errors.ts';
import { type App, kAppRuntime } from '../http/app.ts';
import { type RequestRecord, requestChannel } from '../http/observe.ts';
import { logDestination } from '../internal/log-destination.ts';
import type { Logger } from '../internal/logger.ts';
import { overloadChannel } from '../overload/limiter.ts';

/** The default of `maxPendingBytes`: 64 MiB. */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

function countLines(data: string): number {
  let n = 0;
  for (let i = data.indexOf('\n'); i !== -1; i = data.indexOf('\n', i + 1)) n++;
  return n;
}

/** Options of {@link accessLog}. */
export interface AccessLogOptions {
  /**
   * Where lines go: a file path (JSON lines, appended, written asynchronously; the folder is made), or a
   * logger (pino's interface; lines at `info`). @default the app's logger
   */
  to?: string | Logger;
  /**
   * The share of requests logged, 0…1, drawn per request. Responses of 500 and above are always logged,
   * whatever the share. @default 1
   */
  sample?: number;
  /** How often the count of shed requests is logged, in ms (only when some were shed). @default 10000 */
  shedSummaryMs?: number;
  /**
   * With a file: most bytes of lines waiting for the disk. Past it lines are dropped, counted in
   * `dropped` and reported on the app's log, rather than held without bound. @default 67108864 (64 MiB)
   */
  maxPendingBytes?: number;
}

/** A running access log. */
export interface AccessLog {
  /** Lines written so far (handed to the file or the logger). */
  readonly written: number;
  /** Lines dropped because the file could not keep up (see `maxPendingBytes`). */
  readonly dropped: number;
  /** Stops logging and flushes a file destination. */
  close(): Promise<void>;
}

/** One access-log line's fields. */
export interface AccessLine {
  method: string;
  /** The route's pattern (`/users/:id`), never the raw path; `(unmatched)` when no route matched. */
  route: string;
  status: number;
  /** Milliseconds from arrival to the response's close, to 0.01 ms. */
  durationMs: number;
  /** Response bytes handed to the connection (status line, headers, body). */
  bytes: number;
  /** The client's address, per the app's `trustProxy`. */
  ip: string;
  requestId: string;
  /** Present (false) when the client left before the whole response was sent. */
  completed?: false;
}

/**
 * Logs each request of `app` when its response closes: method, route pattern (not the raw path: no
 * query strings, tokens or ids from the path reach the log), status, duration, bytes, client address
 * (per `trustProxy`) and request id. Call it once per app; `close()` stops it.
 *
 * @example
 * const log = accessLog(app, { to: 'logs/access.log', sample: 0.1 });
 */
export function accessLog(app: App<object>, options: AccessLogOptions = {}): AccessLog {
  const sample = options.sample ?? 1;
  if (typeof sample !== 'number' || !(sample >= 0 && sample <= 1)) {
    throw invalidOption('accessLog sample', 'a number from 0 to 1', sample);
  }
  const shedEvery = options.shedSummaryMs ?? 10_000;
  if (!Number.isFinite(shedEvery) || shedEvery <= 0) {
    throw invalidOption('accessLog shedSummaryMs', 'a positive number of milliseconds', shedEvery);
  }
  const maxPending = options.maxPendingBytes ?? MAX_PENDING_BYTES;
  if (!Number.isSafeInteger(maxPending) || maxPending < 1024) {
    throw invalidOption('accessLog maxPendingBytes', 'an integer ≥ 1024', maxPending);
  }
  const to = options.to;
  if (to !== undefined && typeof to !== 'string' && typeof (to as Logger)?.info !== 'function') {
    throw invalidOption('accessLog to', 'a file path or a logger', to);
  }
  const runtime = app[kAppRuntime];
  // To a file, lines are written as JSON by hand (pino's shape: level, time, the fields, msg), gathered
  // here into 8 KiB writes and flushed at least once a second, so a quiet service's lines do not wait.
  // (Handed to the file one line at a time, its writer re-measured its whole pending buffer per line:
  // a third of a plaintext request.) Past maxPendingBytes waiting for a slow disk, lines are dropped
  // and counted rather than held without bound. Through a logger, they are that logger's `info` lines.
  const file =
    typeof to === 'string'
      ? logDestination({ dest: to, maxLength: maxPending, name: `access log ${to}` })
      : undefined;
  let dropped = 0;
  let droppedSinceReport = 0;
  file?.on('drop', (data: string) => {
    const lines = countLines(data);
    dropped += lines;
    droppedSinceReport += lines;
  });
  let batch: string[] = [];
  let batchLength = 0;
  const flushBatch = (): void => {
    if (batch.length === 0 || file === undefined) return;
    file.write(batch.join(''));
    batch = [];
    batchLength = 0;
  };
  const flusher = file === undefined ? undefined : setInterval(flushBatch, 1000);
  flusher?.unref();
  const log: Logger =
    file !== undefined ? pino({ base: undefined }, file) : typeof to === 'object' ? to : runtime.log;
  /** Route patterns as JSON strings, each made once (they are the app's own, and few). */
  const routes = new Map<string, string>();

  let written = 0;
  const onRequest = (message: unknown): void => {
    const record = message as RequestRecord;
    if (record.runtime !== runtime) return;
    if (sample < 1 && record.status < 500 && Math.random() >= sample) return;
    const ctx = record.ctx;
    const durationMs = Math.round(record.durationMs * 100) / 100;
    written++;
    if (file !== undefined) {
      let route = routes.get(record.route);
      if (route === undefined) {
        route = JSON.stringify(record.route);
        routes.set(record.route, route);
      }
      // The request id is a well-formed id (letters, digits and `._:/+=@-`): nothing to escape.
      const text =
        `{"level":30,"time":${Date.now()},"method":${JSON.stringify(ctx.method)},"route":${route},` +
        `"status":${record.status},"durationMs":${durationMs},"bytes":${record.bytes},` +
        `"ip":${JSON.stringify(ctx.ip)},"requestId":"${ctx.requestId}"` +
        `${record.completed ? '' : ',"completed":false'},"msg":"request"}\n`;
      batch.push(text);
      batchLength += text.length;
      if (batchLength >= 8192) flushBatch();
      return;
    }
    const line: AccessLine = {
      method: ctx.method,
      route: record.route,
      status: record.status,
      durationMs,
      bytes: record.bytes,
      ip: ctx.ip,
      requestId: ctx.requestId,
    };
    if (!record.completed) line.completed = false;
    log.info(line, 'request');
  };

  // Sheds come from the limiter's own channel: counted here, one summary line per interval.
  let shed = 0;
  let byPriority: Record<string, number> = {};
  const onOverload = (message: unknown): void => {
    const event = message as { type: string; priority?: string };
    if (event.type !== 'shed') return;
    shed++;
    const priority = event.priority ?? 'normal';
    byPriority[priority] = (byPriority[priority] ?? 0) + 1;
  };
  const report = (): void => {
    if (droppedSinceReport > 0) {
      // To the app's log: the access log's own file is what cannot keep up.
      runtime.log.warn(
        { dropped: droppedSinceReport, intervalMs: shedEvery },
        'access log lines dropped: the file is written slower than requests come',
      );
      droppedSinceReport = 0;
    }
    if (shed === 0) return;
    log.warn({ shed, byPriority, intervalMs: shedEvery }, 'requests shed');
    shed = 0;
    byPriority = {};
  };
  const timer = setInterval(report, shedEvery);
  timer.unref();

  subscribe(requestChannel.name, onRequest);
  subscribe(overloadChannel.name, onOverload);
  let closed: Promise<void> | undefined;
  return {
    get written() {
      return written;
    },
    get dropped() {
      return dropped;
    },
    close() {
      closed ??= (async () => {
        unsubscribe(requestChannel.name, onRequest);
        unsubscribe(overloadChannel.name, onOverload);
        clearInterval(timer);
        if (flusher !== undefined) clearInterval(flusher);
        flushBatch();
        report();
        // end() waits for the file to open, writes what is buffered, then closes it.
        if (file !== undefined) await new Promise<void>((resolve) => file.once('close', resolve).end());
      })();
      return closed;
    },
  };
}
