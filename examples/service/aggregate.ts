/**
 * GET /aggregate: one answer made of several of the service's own routes (/json, /plaintext, /db × 3),
 * fetched over HTTP through weir/http-client with `gather` and a limit, as a service fans out to the
 * services behind it. Every inner call runs under the request's deadline and gather's signal (which
 * aborts with the request's, and when another inner call fails): when the client leaves, the 2 s route
 * deadline passes or one call fails, the calls still running are closed and the rest never start.
 *
 * Under overload, the inner calls meet the same limiter as the requests that made them: if they were of
 * the same class, a burst of /aggregate could fill every slot with outer requests that wait on inner ones
 * queued behind them. So the route is `priority: 'batch'`: when the server sheds, it sheds new
 * aggregates first, and the inner calls (class `normal`) of those already admitted go ahead of them. The
 * inner calls are not retried: a 503 from our own limiter is an answer, and retrying it adds load where
 * there is too much.
 *
 * The client (and undici with it) is loaded on the first call: a service that never serves /aggregate
 * never loads it.
 */
import { type App, type Context, gather, HttpError } from 'weir';
import type { HttpClient } from 'weir/http-client';

export const AGGREGATE = {
  /** The route's deadline, which bounds every inner call and its retries. */
  deadlineMs: 2000,
  /** Inner calls in flight at once. */
  limit: 3,
  /** Connections the client keeps to the service itself. */
  connections: 8,
  paths: ['/json', '/plaintext', '/db', '/db', '/db'],
};

/** The origin the request reached this process on: inner calls go straight back to it, past any proxy. */
function selfOrigin(ctx: Context): string {
  const { localAddress, localPort } = ctx.req.socket;
  if (localAddress === undefined || localPort === undefined) {
    // inject(): no socket, so nothing to call over HTTP.
    throw HttpError.unavailable('GET /aggregate needs a real socket to call back on', undefined, 'NO_SOCKET');
  }
  const host = localAddress.includes(':') ? `[${localAddress}]` : localAddress;
  return `http://${host}:${localPort}`;
}

export function addAggregateRoute(app: App) {
  let client: Promise<HttpClient> | undefined;
  const open = () => {
    client ??= import('weir/http-client').then(({ createHttpClient }) =>
      createHttpClient({
        connections: AGGREGATE.connections,
        retry: false,
        timeouts: { totalMs: AGGREGATE.deadlineMs },
      }),
    );
    return client;
  };
  app.onStop(async () => {
    await (await client)?.close();
  });
  return app.get('/aggregate', { priority: 'batch', timeoutMs: AGGREGATE.deadlineMs }, async (ctx) => {
    const self = selfOrigin(ctx);
    const http = await open();
    const [json, plaintext, ...worlds] = await gather(
      AGGREGATE.paths.map((path) => async (signal: AbortSignal) => {
        const res = await http.get(`${self}${path}`, { signal, deadline: ctx.deadline });
        if (!res.ok)
          throw HttpError.unavailable(`GET ${path} answered ${res.status}`, 1, 'INNER_CALL_FAILED');
        return res.headers['content-type']?.includes('json') ? res.json() : res.text();
      }),
      { limit: AGGREGATE.limit, signal: ctx.signal },
    );
    return { json, plaintext, worlds };
  });
}
