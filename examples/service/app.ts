/**
 * The reference service: every route weir's README promises, built only from weir's public API.
 * `main.ts` starts it; tests import `createServiceApp()` and run it in-process or on a real socket.
 */
import { fileURLToPath } from 'node:url';
import { App, type AppOptions, HttpError, serveStatic } from 'weir';

const publicDir = fileURLToPath(new URL('./public', import.meta.url));

/** Builds the reference service. */
export function createServiceApp(options: AppOptions = {}): App {
  const app = new App(options);

  app.get('/', () => 'Hello, World');
  app.get('/hello/:name', (ctx) => `Hello, ${ctx.params.name}`);

  // TechEmpower "plaintext" and "json": a fresh string / object per request, serialised per request.
  app.get('/plaintext', () => 'Hello, World!');
  app.get('/json', () => ({ message: 'Hello, World!' }));

  app.get('/healthz', () => ({ status: 'ok', uptimeSeconds: Math.round(process.uptime()) }));

  app.post('/echo', async (ctx) => {
    const body = await ctx.json();
    if (body === null)
      throw HttpError.badRequest('Send a JSON value other than null', undefined, 'ECHO_NULL');
    return body;
  });

  app.get('/static/*', serveStatic(publicDir));

  return app;
}
