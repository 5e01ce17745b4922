import { subscribe } from 'node:diagnostics_channel';
import { App } from 'weir';

// The limiter is on with no options; these are its most used knobs (all in docs/overload.md).
export const app = new App({ overload: { queueTimeoutMs: 500, maxQueue: 5000 } });

// Probes must see the process as it is, not be shed when it is busiest.
app.get('/healthz', { shed: false }, () => 'ok');
app.get('/overload-stats', { shed: false }, () => app.overloadStats());

// Under pressure, batch requests are turned away first and critical ones served first.
app.post('/checkout', { priority: 'critical' }, () => ({ ok: true }));
app.get('/reports/:id', { priority: 'batch' }, (ctx) => ({ report: ctx.params.id }));

// Every shed request, and every change of the limit, on a diagnostics channel.
export const shedByReason = new Map<string, number>();
subscribe('weir:overload', (message) => {
  const event = message as { type: string; reason?: string };
  if (event.type === 'shed') shedByReason.set(event.reason!, (shedByReason.get(event.reason!) ?? 0) + 1);
});
