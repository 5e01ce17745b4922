/**
 * The primary's `/metrics`: the metrics of every worker, summed into one answer (per metric, by its
 * prom-client `aggregator`; weir's own metrics are all sums), so Prometheus scrapes one address for the
 * whole cluster. Only a primary given `metrics` loads prom-client.
 *
 * Wire: prom-client's own cluster protocol, which a worker's `metrics()` answers (weir/observability): the
 * primary sends `{ type: 'prom-client:getMetricsReq', requestId }`, each worker answers
 * `{ type: 'prom-client:getMetricsRes', requestId, metrics }` (or `error`). weir's own IPC messages carry
 * `weir: 1` and neither side mistakes one for the other. Request ids are strings, so they never match the
 * numeric ids of a prom-client `AggregatorRegistry`'s own requests.
 * Guarantees:
 * - Only workers that listen are asked: one still starting has counted nothing yet.
 * - A worker that exits while asked is left out of that answer instead of holding it up.
 * - One that does not answer within `timeoutMs` makes the answer a 503 naming it; an answer is never
 *   partial because a worker was slow.
 * - Scrapes that arrive together share one round of requests; nothing (timer, listener, pending round)
 *   outlives its answer or the server.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { invalidOption, WeirError } from '../errors.ts';

/**
 * The primary's metrics endpoint (`PrimaryOptions.metrics`). A primary script of your own that uses it
 * should not also build a prom-client `AggregatorRegistry`: prom-client's listener in the primary throws
 * on answers to requests it did not send.
 */
export interface PrimaryMetricsOptions {
  /** The port of `GET /metrics`; `0` picks a free one (see `Primary.metricsUrl`). */
  port: number;
  /** Its address. @default '127.0.0.1' */
  host?: string;
  /** How long each worker has to answer; past it the scrape gets a 503. @default 5000 */
  timeoutMs?: number;
}

/** A worker the primary may ask, and how its lines name it. */
export interface MetricsTarget {
  readonly worker: Worker;
  readonly slot: number;
}

/** The running endpoint. */
export interface PrimaryMetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

interface Answer {
  status: number;
  body: string;
  contentType: string;
}

interface Round {
  /** The workers asked that have not answered, by `worker.id`. */
  readonly waiting: Map<number, MetricsTarget>;
  /** Each answering registry's metrics, as `registry.getMetricsAsJSON()` gave them. */
  readonly responses: object[];
  answered: number;
  /** Ends the round (once: later calls do nothing) with `answer`, or with the sum of the responses. */
  settle(answer: Answer | 'aggregate'): void;
}

const REQUEST = 'prom-client:getMetricsReq';
const RESPONSE = 'prom-client:getMetricsRes';
const TEXT = 'text/plain; charset=utf-8';

interface Response {
  type: typeof RESPONSE;
  requestId: unknown;
  metrics?: unknown;
  error?: unknown;
}

function isResponse(message: unknown): message is Response {
  return typeof message === 'object' && message !== null && (message as Response).type === RESPONSE;
}

/** Checks `options` now, so a bad one fails `startPrimary()` rather than the first scrape. */
export function checkPrimaryMetrics(options: PrimaryMetricsOptions): void {
  const { port, host, timeoutMs } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalidOption('metrics.port', 'an integer 0…65535', port);
  }
  if (host !== undefined && (typeof host !== 'string' || host === '')) {
    throw invalidOption('metrics.host', 'an address', host);
  }
  if (timeoutMs !== undefined && !(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw invalidOption('metrics.timeoutMs', 'a positive number of milliseconds', timeoutMs);
  }
}

/**
 * Serves `GET /metrics` on `options.port`, summing the metrics of the workers `targets()` lists.
 * @throws `WEIR_ERR_LISTEN` when the port cannot be bound.
 */
export async function servePrimaryMetrics(
  options: PrimaryMetricsOptions,
  targets: () => MetricsTarget[],
): Promise<PrimaryMetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? 5000;
  const { AggregatorRegistry } = await import('prom-client');
  const rounds = new Map<string, Round>();
  let next = 0;

  const ask = (): Promise<Answer> => {
    const asked = targets().filter((t) => t.worker.isConnected());
    if (asked.length === 0)
      return Promise.resolve({ status: 503, body: 'No worker is running\n', contentType: TEXT });
    const requestId = `weir:${++next}`;
    return new Promise<Answer>((resolve) => {
      const timer = setTimeout(() => {
        const late = [...round.waiting.values()].map(describe).join(', ');
        round.settle({
          status: 503,
          body: `${late} did not answer within ${timeoutMs} ms\n`,
          contentType: TEXT,
        });
      }, timeoutMs);
      const round: Round = {
        waiting: new Map(asked.map((t) => [t.worker.id, t])),
        responses: [],
        answered: 0,
        settle: (answer) => {
          if (!rounds.has(requestId)) return;
          clearTimeout(timer);
          rounds.delete(requestId);
          if (answer !== 'aggregate') resolve(answer);
          else resolve(aggregate(round));
        },
      };
      rounds.set(requestId, round);
      for (const t of asked)
        t.worker.send({ type: REQUEST, requestId }, (err: Error | null) => err && leave(round, t.worker));
    });
  };

  const aggregate = async (round: Round): Promise<Answer> => {
    if (round.answered === 0) return { status: 503, body: 'No worker answered\n', contentType: TEXT };
    try {
      const registry = AggregatorRegistry.aggregate(round.responses);
      return { status: 200, body: await registry.metrics(), contentType: registry.contentType };
    } catch (err) {
      return {
        status: 500,
        body: `The metrics could not be summed: ${(err as Error).message}\n`,
        contentType: TEXT,
      };
    }
  };

  /** A worker that exited (or whose channel closed) while asked: the round goes on without it. */
  const leave = (round: Round, worker: Worker): void => {
    if (round.waiting.delete(worker.id) && round.waiting.size === 0) round.settle('aggregate');
  };
  const onExit = (worker: Worker): void => {
    for (const round of rounds.values()) leave(round, worker);
  };
  const onMessage = (worker: Worker, message: unknown): void => {
    if (!isResponse(message) || typeof message.requestId !== 'string') return;
    const round = rounds.get(message.requestId);
    const target = round?.waiting.get(worker.id);
    if (round === undefined || target === undefined) return;
    if (message.error !== undefined || !Array.isArray(message.metrics)) {
      const why = message.error === undefined ? 'an answer without metrics' : String(message.error);
      round.settle({
        status: 500,
        body: `${describe(target)} could not collect its metrics: ${why}\n`,
        contentType: TEXT,
      });
      return;
    }
    round.responses.push(...(message.metrics as object[]));
    round.answered++;
    leave(round, worker);
  };

  // Scrapes that arrive while a round is out share its answer: one request per worker at a time.
  let current: Promise<Answer> | undefined;
  const scrape = (): Promise<Answer> => {
    current ??= ask().finally(() => {
      current = undefined;
    });
    return current;
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?', 1)[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': TEXT }).end('Not found: the metrics are at /metrics\n');
      return;
    }
    void scrape().then((a) =>
      res.writeHead(a.status, { 'content-type': a.contentType, 'cache-control': 'no-store' }).end(a.body),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: Error) =>
      reject(
        new WeirError('WEIR_ERR_LISTEN', `Cannot serve metrics on ${host}:${options.port}: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    server.listen(options.port, host, resolve);
  });
  cluster.on('message', onMessage);
  cluster.on('exit', onExit);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/metrics`,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        cluster.off('message', onMessage);
        cluster.off('exit', onExit);
        for (const round of rounds.values()) {
          round.settle({ status: 503, body: 'The primary is stopping\n', contentType: TEXT });
        }
        server.closeAllConnections();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}

function describe(t: MetricsTarget): string {
  return `worker ${t.slot} (pid ${t.worker.process.pid ?? 0})`;
}
