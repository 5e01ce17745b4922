/**
 * PostgreSQL through node-postgres (`pg`): a pool of connections, each query a named prepared statement
 * (parsed and planned once per connection, then only bound and executed). How a query travels through
 * the pool, is cancelled and hands its connection back is in `postgres-state.ts`.
 *
 * Bounds: `max` connections; at most `maxWaiting` queries wait for one (one more gets 503 at once), each
 * for at most `acquireTimeoutMs` (then 503); a cancel request gets `cancelTimeoutMs`, after which its
 * connection is closed rather than reused.
 */
import type * as Pg from 'pg';
import { invalidOption } from '../errors.ts';
import { redactUrl } from '../internal/url.ts';
import type { EngineOptions } from './database.ts';
import { loadDriver } from './driver.ts';
import type { PostgresPool } from './driver-types.ts';
import { openError } from './errors.ts';
import { EngineDatabase } from './executor.ts';
import { engineSettings } from './log.ts';
import type { QueryTarget } from './observe.ts';
import { IntegerOverflow } from './postgres-errors.ts';
import { PostgresState } from './postgres-state.ts';

/** Options of a PostgreSQL database (with `maxWaiting`, `acquireTimeoutMs` and `logger`). */
export interface PostgresOptions extends EngineOptions {
  /** Most connections open at once. @default 16 */
  max?: number;
  /**
   * How long an unused connection stays open: it is closed between this and twice this after its last
   * query (one sweep per pool; see postgres-idle.ts). `0` or `Infinity`: never. @default 30000
   */
  idleTimeoutMs?: number;
  /**
   * How long a cancel request (sent when a running query's signal fires) may take. Past it, the
   * connection is closed instead of reused, since a late cancel could hit its next query. @default 5000
   */
  cancelTimeoutMs?: number;
  /**
   * Called when an idle pooled connection fails, besides the warning logged for it (the pool drops the
   * connection and opens another when needed).
   */
  onIdleError?: (error: Error) => void;
}

type PgModule = typeof Pg;

/** Opens a pool and checks that the server answers; an unreachable server fails with one line. */
export async function openPostgres(url: string, options: PostgresOptions = {}): Promise<PostgresDatabase> {
  const max = options.max ?? 16;
  if (!Number.isInteger(max) || max < 1) throw invalidOption('max', 'an integer ≥ 1', max);
  const cancelTimeoutMs = options.cancelTimeoutMs ?? 5000;
  if (!(cancelTimeoutMs > 0 && cancelTimeoutMs <= 2_147_483_647)) {
    throw invalidOption('cancelTimeoutMs', 'a number of milliseconds from 1 to 2^31 - 1', cancelTimeoutMs);
  }
  const idleOption = options.idleTimeoutMs ?? 30_000;
  // `Infinity` means never, as 0 does.
  const idleTimeoutMs = idleOption === Number.POSITIVE_INFINITY ? 0 : idleOption;
  if (
    !(
      typeof idleTimeoutMs === 'number' &&
      (idleTimeoutMs === 0 || (idleTimeoutMs >= 1 && idleTimeoutMs <= 2_147_483_647))
    )
  ) {
    throw invalidOption(
      'idleTimeoutMs',
      'a number of milliseconds from 1 to 2^31 - 1, 0 or Infinity (never)',
      idleOption,
    );
  }
  const { log, maxWaiting, acquireTimeoutMs } = engineSettings(options);
  const pg = await loadDriver<PgModule>('pg', 'postgres');
  // 0 for no bound, as pg reads it: a timer past 2^31 - 1 ms would fire at once.
  const waitMs = acquireTimeoutMs > 2_147_483_647 ? 0 : acquireTimeoutMs;
  const pool = new pg.Pool({
    connectionString: url,
    max,
    // What `db.pool.connect()` waits at most. weir's own requests ask with it at 0 and are timed on one
    // timer per pool (postgres-wait.ts); a connection opened for one still gives up after this long.
    connectionTimeoutMillis: waitMs,
    Client: class extends pg.Client {
      constructor(config?: Pg.ClientConfig) {
        super({ ...config, connectionTimeoutMillis: waitMs });
      }
    },
    // Off: pg's pool would arm and clear a timer per query; weir sweeps idle connections instead.
    idleTimeoutMillis: 0,
    // The URL's own ?application_name= wins over this.
    application_name: 'weir',
    types: { getTypeParser: typeParser(pg) },
  });
  // An idle connection that dies emits 'error' on the pool; unheard, that would crash the process. The
  // state logs it (it listens on every connection, idle or not).
  const onIdleError = options.onIdleError;
  pool.on('error', (err) => onIdleError?.(err));
  const shown = redactUrl(url);
  const state = new PostgresState(pg, pool, {
    url: shown,
    connectionString: url,
    max,
    maxWaiting,
    cancelTimeoutMs,
    acquireTimeoutMs: waitMs,
    idleTimeoutMs,
    log,
  });
  try {
    await pool.query('SELECT 1');
  } catch (err) {
    await state.close().catch(() => {});
    throw openError(shown, (err as Error).message, err);
  }
  return new PostgresDatabase(shown, state, postgresTarget(url));
}

/** How traces name the database: its name, host and port (the URL's; libpq's defaults when it has none). */
function postgresTarget(url: string): QueryTarget {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // A connection string pg reads and URL does not (it connected): named by the defaults.
  }
  const host = parsed?.searchParams.get('host') || decodeURIComponent(parsed?.hostname ?? '') || 'localhost';
  const port = Number(parsed?.searchParams.get('port') || parsed?.port || 5432);
  const name =
    decodeURIComponent(parsed?.pathname.slice(1) ?? '') || decodeURIComponent(parsed?.username ?? '');
  return { engine: 'postgres', namespace: name, host, port: Number.isInteger(port) ? port : 5432 };
}

/**
 * `int8` (`count(*)`, `bigserial`, `sum()` of integers) as a `number`, always: pg would hand it over as a
 * string. A value past ±(2^53 - 1), which a number cannot hold exactly, fails the query with
 * `WEIR_ERR_DB_INTEGER_OVERFLOW` rather than coming back rounded or as another type; select such a column
 * as text (`id::text`). Arrays of int8 alike. `numeric` stays a string.
 */
function typeParser(pg: PgModule): Pg.CustomTypesConfig['getTypeParser'] {
  const int8 = (text: string): number => {
    const n = Number(text);
    if (Number.isSafeInteger(n)) return n;
    throw new IntegerOverflow();
  };
  const int8Strings = (pg.types.getTypeParser as (oid: number, format: 'text') => unknown)(1016, 'text') as (
    text: string,
  ) => unknown;
  const toNumbers = (value: unknown): unknown =>
    Array.isArray(value) ? value.map(toNumbers) : value === null ? null : int8(value as string);
  const int8Array = (text: string): unknown => toNumbers(int8Strings(text));
  return ((oid: number, format?: 'text' | 'binary') => {
    if (format !== 'binary') {
      if (oid === 20) return int8;
      if (oid === 1016) return int8Array;
    }
    return pg.types.getTypeParser(oid, format);
  }) as Pg.CustomTypesConfig['getTypeParser'];
}

/** The PostgreSQL engine behind `openDatabase('postgres://…')`. */
export class PostgresDatabase extends EngineDatabase<PostgresState> {
  readonly engine = 'postgres' as const;

  /** The pg pool, for what the interface does not cover (LISTEN/NOTIFY, COPY). */
  get pool(): PostgresPool {
    return this.state.pool;
  }
}
