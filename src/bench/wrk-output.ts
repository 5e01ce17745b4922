/**
 * wrk's own text output, read: req/s, its `--latency` distribution, the request count and errors. The
 * project's comparative benchmarks (bench/) run wrk with its plain command line and read it with these.
 */

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * A wrk duration (`812.00us`, `1.20ms`, `2.00s`, …) in ms.
 * @throws Error when the text is not one
 */
export function toMs(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`cannot read wrk duration "${text}"`);
  return Number(m[1]) * (UNIT_MS[m[2] as string] ?? Number.NaN);
}

/** The `--latency` distribution in ms by percentile (`'50%'`: …), or undefined without one. */
export function wrkPercentiles(text: string): Record<string, number> | undefined {
  const dist = /Latency Distribution\s*\n((?:\s+\d+%\s+\S+\s*\n)+)/.exec(text);
  if (!dist) return undefined;
  const percentiles: Record<string, number> = {};
  for (const line of (dist[1] as string).trim().split('\n')) {
    const [p, value] = line.trim().split(/\s+/) as [string, string];
    percentiles[p] = toMs(value);
  }
  return percentiles;
}

/** The request count, socket errors (summed, and wrk's line about them) and non-2xx/3xx count. */
export function wrkCounts(text: string): {
  requests: number | undefined;
  socketErrors: number;
  socketErrorText: string;
  non2xx: number;
} {
  const total = /^\s*(\d+) requests in/m.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    requests: total ? Number(total[1]) : undefined,
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
    socketErrorText: socket ? socket[0] : '',
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

/** What parseWrk() reads: req/s, latency in ms, counts. */
export interface WrkResult {
  rps: number;
  p50: number;
  p75: number | undefined;
  p90: number | undefined;
  p99: number;
  /** The Max of wrk's Latency line, or undefined without one. */
  max: number | undefined;
  requests: number | undefined;
  socketErrors: number;
  socketErrorText: string;
  non2xx: number;
}

/**
 * Reads wrk's output of a run with `--latency`.
 * @throws Error naming what is missing: the Requests/sec line or the 50%/99% latencies
 */
export function parseWrk(text: string): WrkResult {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  if (!rps) throw new Error(`no Requests/sec line in wrk output:\n${text}`);
  const percentiles = wrkPercentiles(text) ?? {};
  const { '50%': p50, '75%': p75, '90%': p90, '99%': p99 } = percentiles;
  if (p50 === undefined || p99 === undefined) {
    throw new Error(`no 50%/99% latency lines in wrk output (was --latency passed?):\n${text}`);
  }
  const latency = /^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)/m.exec(text);
  return {
    rps: Number(rps[1]),
    p50,
    p75,
    p90,
    p99,
    max: latency ? toMs(latency[3] as string) : undefined,
    ...wrkCounts(text),
  };
}
