/** What `startPrimary()` (supervisor.ts) takes and gives back: the multi-process primary's public types. */
import type { PrimaryMetricsOptions } from './primary-metrics.ts';
import type { Scheduling } from './scheduling.ts';

/** Options of `startPrimary()`. */
export interface PrimaryOptions {
  /** How many workers to run. @throws `WEIR_ERR_INVALID_OPTION` when not an integer ≥ 1. */
  workers: number;
  /** The script each worker runs. @default process.argv[1] (the primary's own script) */
  exec?: string;
  /** Its arguments. @default process.argv.slice(2) */
  args?: readonly string[];
  /** Node's flags for the workers. @default process.execArgv */
  execArgv?: readonly string[];
  /** Extra environment variables for the workers. */
  env?: Readonly<Record<string, string>>;
  /**
   * How the port's connections reach workers: `rr`, the primary accepts and hands them round-robin;
   * `none`, every worker accepts on the shared socket and the kernel picks; `reuseport`, every worker
   * binds the port itself (`SO_REUSEPORT`) and the kernel spreads new connections over them by their
   * addresses' hash (Node ≥ 22.12 on Linux or FreeBSD; the app must listen on a fixed port). See
   * {@link Scheduling}. @default 'rr'
   * @throws `WEIR_ERR_INVALID_OPTION` for another value, or `reuseport` where it is not available.
   */
  scheduling?: Scheduling;
  /** How long a stopping worker may drain; 5 s later it is killed. @default 10000 */
  drainTimeoutMs?: number;
  /** How long a new worker may take to listen. @default 60000 */
  readyTimeoutMs?: number;
  /** Exits of one slot within {@link crashLoopWindowMs} after which it is not restarted. @default 5 */
  crashLoopExits?: number;
  /** @default 30000 */
  crashLoopWindowMs?: number;
  /**
   * A file the primary writes its pid to (for `weir reload --pid-file`), removed when it exits. One left
   * by a killed primary is taken over; one naming a running primary is refused.
   * @throws `WEIR_ERR_PID_FILE_TAKEN` when another running primary owns it.
   */
  pidFile?: string;
  /** Handle SIGTERM/SIGINT (stop) and SIGHUP (reload). @default true */
  signals?: boolean;
  /** Exit the process with the primary's exit code when it is done. @default true */
  exitProcess?: boolean;
  /** Where the primary's lines go. @default a line on stdout */
  log?: (line: string) => void;
  /**
   * Serve `GET /metrics` on a port of the primary: the metrics of every worker's `metrics()`
   * (weir/observability), summed, so one scrape covers the cluster. A worker that does not answer within
   * `timeoutMs` makes the scrape a 503 naming it. prom-client is loaded only with this option.
   * @throws `WEIR_ERR_INVALID_OPTION` for a port outside 0…65535 or a timeout that is not positive.
   */
  metrics?: PrimaryMetricsOptions;
}

/** A running primary. */
export interface Primary {
  /** Replaces every worker, one at a time; resolves when done (a reload asked for meanwhile runs next). */
  reload(): Promise<void>;
  /** Drains and stops every worker; resolves with the exit code. */
  stop(): Promise<number>;
  /** Resolves with the exit code once the primary is done (stopped, or no worker left). */
  readonly exited: Promise<number>;
  /** The pids of the workers running now. */
  pids(): number[];
  /**
   * The URL of the summed metrics (`http://127.0.0.1:9464/metrics`) once their port listens, also logged
   * then; `undefined` before, and without the `metrics` option.
   */
  readonly metricsUrl: string | undefined;
}
