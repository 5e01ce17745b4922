/**
 * The options of `weir bench`, read from its command line and checked: every value has a bound, so every
 * run ends (rounds × targets × (warm-up + duration), plus the engine's time-out).
 */
import { parseArgs } from 'node:util';
import { invalidOption } from '../errors.ts';

/** A load generator: `wrk` (a separate process, the default when on PATH) or `autocannon` (in-process). */
export type EngineName = 'wrk' | 'autocannon';

/** What `weir bench` runs. */
export interface BenchOptions {
  /** The target; with `compare`, the first of two. */
  url: string;
  /** A second target, run alternately with `url`. */
  compare?: string;
  /** Length of each measured run. @default 10000 */
  durationMs: number;
  /** Discarded run before the first round, per target (0: none). @default 3000 */
  warmupMs: number;
  /** Measured runs per target; the report gives each and their median. @default 3 */
  rounds: number;
  /** Concurrent connections (with wrk, one wrk thread each). @default 32 */
  connections: number;
  /** A request that takes longer counts as a time-out. @default 10000 */
  timeoutMs: number;
  /** @default 'GET' */
  method: string;
  /** Request headers, [name, value]. */
  headers: [string, string][];
  /** Request body. */
  body?: string;
  /** The engine; undefined picks wrk when it is on PATH, else autocannon. */
  engine?: EngineName;
  /** Folder for report.html, report.json and report.md; undefined prints the Markdown only. */
  out?: string;
}

/** The help of `weir bench`. */
export const BENCH_USAGE = `Usage: weir bench URL [options]

  --duration <s>       each measured run, seconds (or 30s, 2m)              default 10
  --warmup <s>         discarded run per target before the first round      default 3
  --rounds <n>         measured runs per target                             default 3
  --connections <n>    concurrent connections (wrk: one thread each)        default 32
  --timeout <s>        a slower request counts as a time-out                default 10
  --method <m>         request method                                       default GET
  --header "N: v"      request header (repeatable)
  --body <text>        request body
  --compare <URL2>     a second target, run alternately with URL (A B, B A, …)
  --out <dir>          write report.html, report.json and report.md there
  --engine <e>         wrk or autocannon                 default wrk if on PATH, else autocannon
  -h, --help

Latency is recorded per status class, so 503s are told apart from 200s. Progress goes to stderr; without
--out the Markdown report goes to stdout.`;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MAX_SECONDS = 3600;
const MAX_HEADER_BYTES = 8192;
const MAX_HEADERS = 64;
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** `10`, `10s`, `2m`, `1h` as whole seconds from `min` to an hour; throws naming `flag` otherwise. */
function seconds(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const m = /^(\d{1,7})(s|m|h)?$/.exec(text.trim());
  const value = m ? Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] ?? 's'] ?? 1) : Number.NaN;
  if (!(value >= min && value <= MAX_SECONDS)) {
    throw invalidOption(`--${flag}`, `whole seconds from ${min} to ${MAX_SECONDS} (10, 30s, 2m)`, text);
  }
  return value;
}

function integer(flag: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const value = /^\d{1,6}$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(value >= 1 && value <= max)) throw invalidOption(`--${flag}`, `an integer from 1 to ${max}`, text);
  return value;
}

/** An http: or https: URL, returned as given; throws naming `flag` otherwise. */
function target(flag: string, text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidOption(flag, 'an http:// or https:// URL', text);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidOption(flag, 'an http:// or https:// URL', text);
  }
  return url.href;
}

/**
 * A `Name: value` header. Names are HTTP tokens; values are Latin-1 text without control characters but
 * tab: a CR or LF would end the header and smuggle another one into every request.
 */
function header(text: string): [string, string] {
  const colon = text.indexOf(':');
  const name = colon > 0 ? text.slice(0, colon).trim() : '';
  const value = colon > 0 ? text.slice(colon + 1).trim() : '';
  if (!TOKEN.test(name)) throw invalidOption('--header', '"Name: value" with a token as name', text);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\u0000-\u0008\u000a-\u001f\u007f]|[^\u0000-\u00ff]/.test(value)) {
    throw invalidOption(
      `--header ${name}`,
      'a value without CR, LF or other control characters, in Latin-1',
      '(value not shown)',
    );
  }
  if (/^(content-length|transfer-encoding|connection)$/i.test(name)) {
    // The engines frame the body and keep connections alive themselves; a second framing would desync them.
    throw invalidOption(
      '--header',
      'a header other than Content-Length, Transfer-Encoding or Connection',
      name,
    );
  }
  if (text.length > MAX_HEADER_BYTES) {
    throw invalidOption(`--header ${name}`, `at most ${MAX_HEADER_BYTES} bytes`, `${text.length} bytes`);
  }
  return [name, value];
}

/**
 * Reads `weir bench`'s arguments (after the word `bench`). Returns `help: true` for -h/--help.
 * @throws WEIR_ERR_INVALID_OPTION naming the option, what it takes and what it got
 */
export function parseBenchArgs(
  argv: readonly string[],
): { help: true } | { help: false; options: BenchOptions } {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      timeout: { type: 'string' },
      method: { type: 'string' },
      header: { type: 'string', multiple: true },
      body: { type: 'string' },
      compare: { type: 'string' },
      out: { type: 'string' },
      engine: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return { help: true };
  if (positionals.length !== 1)
    throw invalidOption('weir bench', 'one URL', positionals.join(' ') || '(none)');
  const method = values.method ?? 'GET';
  if (!TOKEN.test(method) || method.length > 32)
    throw invalidOption('--method', 'an HTTP method token', method);
  const headers = (values.header ?? []).map(header);
  if (headers.length > MAX_HEADERS)
    throw invalidOption('--header', `at most ${MAX_HEADERS} headers`, headers.length);
  if (values.body !== undefined && Buffer.byteLength(values.body) > MAX_BODY_BYTES) {
    throw invalidOption(
      '--body',
      `at most ${MAX_BODY_BYTES} bytes`,
      `${Buffer.byteLength(values.body)} bytes`,
    );
  }
  const engine = values.engine;
  if (engine !== undefined && engine !== 'wrk' && engine !== 'autocannon') {
    throw invalidOption('--engine', 'wrk or autocannon', engine);
  }
  if (values.out !== undefined && values.out.trim() === '')
    throw invalidOption('--out', 'a folder', values.out);
  const options: BenchOptions = {
    url: target('URL', positionals[0] as string),
    durationMs: seconds('duration', values.duration, 10, 1) * 1000,
    warmupMs: seconds('warmup', values.warmup, 3, 0) * 1000,
    rounds: integer('rounds', values.rounds, 3, 100),
    connections: integer('connections', values.connections, 32, 10_000),
    timeoutMs: seconds('timeout', values.timeout, 10, 1) * 1000,
    method,
    headers,
  };
  if (values.compare !== undefined) options.compare = target('--compare', values.compare);
  if (values.body !== undefined) options.body = values.body;
  if (engine !== undefined) options.engine = engine;
  if (values.out !== undefined) options.out = values.out;
  return { help: false, options };
}
