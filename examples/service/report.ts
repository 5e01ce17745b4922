/**
 * GET /report?seconds=N: a deliberately slow report (N seconds of database work, 0 to 30) under a 1 s
 * route deadline. Past the deadline the client gets 503 `WEIR_ERR_REQUEST_TIMEOUT` and the work stops:
 * on PostgreSQL the query is `pg_sleep(N)`, cancelled on the server the moment `ctx.signal` fires, not
 * left running; on SQLite, whose statements run to completion on the event loop and cannot be
 * interrupted, the report is a series of short steps (a query, then a 100 ms wait), and no step starts
 * once the deadline has passed.
 */
import * as v from 'valibot';
import { type App, sleep } from 'weir';
import type { Database } from 'weir/db';
import { intQuery } from './schemas.ts';

export const REPORT = { deadlineMs: 1000, maxSeconds: 30, sqliteStepMs: 100 };

/** `seconds`: an integer from 0 to 30 (default 5), else a 400 naming the field. */
const ReportQuery = v.object({ seconds: intQuery(0, REPORT.maxSeconds, 5) });

export function addReportRoute(app: App, db: Database) {
  return app.get('/report', { timeoutMs: REPORT.deadlineMs, schema: { query: ReportQuery } }, async (ctx) => {
    const { seconds } = ctx.query;
    // `db.with(ctx)`: every query runs under the request's signal and deadline.
    const q = db.with(ctx);
    if (db.engine === 'postgres') {
      await q.query`SELECT pg_sleep(${seconds})`;
    } else {
      for (let waited = 0; waited < seconds * 1000; waited += REPORT.sqliteStepMs) {
        await q.one`SELECT count(*) AS n FROM world`;
        await sleep(REPORT.sqliteStepMs, ctx);
      }
    }
    return { seconds, status: 'done' };
  });
}
