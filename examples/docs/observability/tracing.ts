// Traces with OpenTelemetry: register an SDK first (a tracer provider, a context manager, a
// propagator), then tracing(app). Spans are kept in memory here; in production give the provider an
// OTLP exporter (@opentelemetry/exporter-trace-otlp-http) in a BatchSpanProcessor, or use
// NodeTracerProvider.register() (@opentelemetry/sdk-trace-node), which registers all three at once.
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { App } from 'weir';
import { openDatabase } from 'weir/db';
import { tracing } from 'weir/observability';
import { openJobQueue } from 'weir/queue';

export const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
);
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

const db = await openDatabase(process.env.DATABASE_URL ?? 'sqlite::memory:');
await db.execScript('CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, sku TEXT NOT NULL)');
const emails = await openJobQueue<{ order: number }>('emails', { url: process.env.QUEUE_URL });

export const app = new App();
// Continue the traces of our own services (10.0.0.0/8); anyone else's request starts a trace of its own.
await tracing(app, { trust: ['10.0.0.0/8'], ignore: ['/healthz'] });

app.get('/healthz', () => 'ok');
app.post('/orders', async (ctx) => {
  const { sku } = await ctx.json<{ sku: string }>();
  // Spans: POST /orders → INSERT, → send emails → (in the worker) process emails → SELECT.
  const { id } = await db.with(ctx).one<{
    id: number;
  }>`INSERT INTO orders (sku) VALUES (${sku}) RETURNING id`;
  await emails.add({ order: id }, ctx);
  ctx.log.info({ id }, 'order placed'); // the line carries traceId and spanId
  return { id };
});

app.worker(emails, async (job) => {
  await db.one`SELECT sku FROM orders WHERE id = ${job.data.order}`;
});
app.onStop(() => emails.close());
app.onStop(() => db.close());
