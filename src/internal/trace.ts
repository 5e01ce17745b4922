/**
 * What weir's backends share with a tracer they know nothing of (weir/observability's `tracing()`, or
 * any other subscriber): operations published on `node:diagnostics_channel` tracing channels, a hook
 * that runs user code with an operation's span as the active context, and the rules for the trace
 * context a job carries from the request that adds it to the worker that runs it.
 *
 * With no tracer the hook is `undefined` and each operation pays one `hasSubscribers` check.
 */

/** Runs `fn` with the span a tracer made for `record` (on its channel's `start`) active. */
export type Around = <T>(record: object, fn: () => T) => T;

/** The hook a tracer installs while it runs; `undefined` otherwise. */
export const activeSpans: { around: Around | undefined } = { around: undefined };

/**
 * Runs `fn` inside the traced operation `record` (a database transaction's function, a cache loader, a
 * job handler), so that what it does nests under the operation's span; `fn()` alone without a tracer.
 */
export function runInside<T>(record: object | undefined, fn: () => T): T {
  const around = activeSpans.around;
  return record === undefined || around === undefined ? fn() : around(record, fn);
}

/**
 * The trace context a job carries (a propagator's fields: `traceparent`, `tracestate`, …), written by a
 * tracer into {@link TraceCarrier} when the job is added, read back through {@link TraceGetter} when it
 * runs. Both sides keep only what {@link traceEntries} and {@link traceValue} allow, so a message
 * another producer published cannot bring anything else to a handler, a span or a log.
 */
export type TraceCarrier = Record<string, string>;

/** Reads one field of a job's trace context; `undefined` when it has none (or a malformed one). */
export type TraceGetter = (field: string) => string | undefined;

/** Most fields kept of a job's trace context. */
export const MAX_TRACE_FIELDS = 8;
/** The longest field value kept (W3C `tracestate` is at most 512 characters; `baggage` 8192 bytes). */
export const MAX_TRACE_VALUE = 8192;

const FIELD = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
// Visible ASCII and spaces: nothing that can break a header, a JSON string or a log line.
const VALUE = /^[\x20-\x7e]*$/;

/** `value` when it is a field value weir keeps: a string of visible ASCII within MAX_TRACE_VALUE. */
export function traceValue(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' && value.length <= MAX_TRACE_VALUE && VALUE.test(value)
    ? value
    : undefined;
}

/**
 * The entries of `carrier` a job may carry: lower-case field names (`traceparent`), none of weir's own
 * (`x-weir-…`, `weir-…`), well-formed values, at most MAX_TRACE_FIELDS; `undefined` when none is left.
 */
export function traceEntries(carrier: TraceCarrier | undefined): [string, string][] | undefined {
  if (carrier === undefined) return undefined;
  const out: [string, string][] = [];
  for (const name of Object.keys(carrier)) {
    if (out.length === MAX_TRACE_FIELDS) break;
    if (!FIELD.test(name) || name.startsWith('x-weir-') || name.startsWith('weir-')) continue;
    const value = traceValue(carrier[name]);
    if (value !== undefined) out.push([name, value]);
  }
  return out.length === 0 ? undefined : out;
}

/** A getter over a JSON object of fields (what the SQLite queue stores), or `undefined` for none or junk. */
export function jsonTraceGetter(text: string | null | undefined): TraceGetter | undefined {
  if (typeof text !== 'string' || text.length > MAX_TRACE_FIELDS * (MAX_TRACE_VALUE + 80)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const fields = parsed as Record<string, unknown>;
  return (field) => (Object.hasOwn(fields, field) ? traceValue(fields[field]) : undefined);
}
