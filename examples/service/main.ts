/**
 * `npm start`: the reference service on embedded defaults, on http://127.0.0.1:8080, with its
 * welcome-email worker in the same process. Configuration (README, "Configuration"): PORT and HOST the
 * address; DATABASE_URL the database (`sqlite:./data/weir.db` by default); CACHE_URL the cache
 * (`memory:`, or `redis://…` / `tiered+redis://…`); QUEUE_URL the job queue (`sqlite:./data/queue.db`);
 * LOG_LEVEL and NODE_ENV the logs and error detail. SIGTERM or Ctrl-C shut it down gracefully.
 * With WEB_CONCURRENCY=N, `npm start` runs this file in N worker processes under a supervising primary.
 */
import { isWeirError } from 'weir';

/** The one line a misconfigured start prints: the message, the code, and what to do about it. */
function cannotStart(err: unknown): never {
  const code = isWeirError(err) ? err.code : undefined;
  const hint =
    code === 'WEIR_ERR_LISTEN'
      ? ' (another process holds the address: stop it or set PORT)'
      : code === 'WEIR_ERR_INVALID_OPTION'
        ? ' (check PORT, HOST and the *_URL variables)'
        : '';
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`weir: cannot start: ${message}${code === undefined ? '' : ` [${code}]`}${hint}\n`);
  process.exit(1);
}

try {
  const port = Number(process.env.PORT ?? 8080);
  const host = process.env.HOST ?? '127.0.0.1';
  const { app, backends } = await import('./entry.ts');
  await app.listen({ port, host, startupInfo: backends });
} catch (err) {
  cannotStart(err);
}
