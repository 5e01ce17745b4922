/**
 * An OpenTelemetry SDK for tests, registered once per test process: spans kept in memory, contexts in
 * AsyncLocalStorage, W3C Trace Context as the propagator. `spans()` reads what ended, `waitFor()` waits
 * (bounded) for spans that end later, such as those of jobs.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { sleep } from 'weir';

export const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
trace.setGlobalTracerProvider(provider);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

export type { ReadableSpan };

/** The spans ended so far. */
export function spans(): ReadableSpan[] {
  return exporter.getFinishedSpans();
}

/** Waits until `done(spans)` holds, up to `timeoutMs`; returns the spans then (the caller asserts). */
export async function waitFor(
  done: (all: ReadableSpan[]) => boolean,
  timeoutMs = 5000,
): Promise<ReadableSpan[]> {
  for (let waited = 0; waited < timeoutMs && !done(spans()); waited += 10) await sleep(10);
  return spans();
}

/** The one span named `name`, failing when there is none or several. */
export function only(all: ReadableSpan[], name: string): ReadableSpan {
  const found = all.filter((s) => s.name === name);
  if (found.length !== 1) {
    throw new Error(`expected one span named "${name}", found ${found.length}: ${all.map((s) => s.name)}`);
  }
  return found[0]!;
}

/** The id of `span`'s parent, or undefined for a root span. */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** Whether `child`'s parent is `parent` (same trace, parent id). */
export function isChild(child: ReadableSpan, parent: ReadableSpan): boolean {
  return (
    child.spanContext().traceId === parent.spanContext().traceId &&
    parentOf(child) === parent.spanContext().spanId
  );
}
