// The runners' command lines, read by one parser on node:util's parseArgs: each option is declared once,
// with its line in the help, its default (and the environment variable that may stand for it) and the
// reader that checks its value.

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_DIR } from './common.mjs';

/**
 * Reads the command line of the runner `name` (bench, bench:db, …) strictly; with -h or --help it prints
 * the help and exits. `options` are { flag: spec } in the help's order (see option()); a spec has
 * - `arg`, what the flag takes as the help shows it (`<n>`); a flag without one is a switch;
 * - `help`, its text, laid out in `columns` (the widths of the flag column, the text column and, with
 *   `envPrefix`, the environment variable's), then its variable and `default <shown>` (`shown`, or else
 *   `default`), and `note` on a line of its own below the text; `line` is the whole help line
 *   (or lines) where that layout does not fit;
 * - `default`, its value when neither the flag nor its variable gives one. With `envPrefix`, every flag
 *   but those whose `env` is false may be given as <envPrefix><FLAG> (BENCH_NO_BUILD for --no-build); a
 *   switch's variable is on when it is `1`; an empty one counts as unset;
 * - `read(value, flag, runner)`, which turns the value into `opts[key]` (`key`: the flag in camelCase
 *   unless given), failing on a bad one; a flag without it is only in `flags`.
 * `usage` opens the help, `notes` end it. Returns the runner: { name, flags (the values given or
 * defaulted), opts, fail(message) }, fail() printing the message after `name` and exiting with 1.
 */
export function commandLine({ name, usage, columns, envPrefix, options, notes = '' }) {
  const specs = Object.entries(options).map(([flag, s]) => [
    flag,
    {
      ...s,
      env: envPrefix && s.env !== false ? `${envPrefix}${flag.toUpperCase().replace(/-/g, '_')}` : undefined,
    },
  ]);
  const { values } = parseArgs({
    options: {
      ...Object.fromEntries(specs.map(([flag, s]) => [flag, { type: s.arg ? 'string' : 'boolean' }])),
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    const lines = specs.map(([flag, s]) => `${s.line ?? helpLine(flag, s, columns)}\n`).join('');
    process.stdout.write(`${usage}\n${lines}  -h, --help\n${notes}`);
    process.exit(0);
  }
  const fail = (message) => {
    console.error(`${name}: ${message}`);
    process.exit(1);
  };
  const runner = { name, flags: {}, opts: {}, fail };
  for (const [flag, s] of specs) {
    const env = s.env === undefined || process.env[s.env] === '' ? undefined : process.env[s.env];
    runner.flags[flag] = values[flag] ?? (s.arg || env === undefined ? env : env === '1') ?? s.default;
  }
  for (const [flag, s] of specs) {
    const key = s.key ?? flag.replace(/-(\w)/g, (_, c) => c.toUpperCase());
    if (s.read) runner.opts[key] = s.read(runner.flags[flag], flag, runner);
  }
  return runner;
}

/**
 * An option of commandLine(): what the flag takes (`arg`, '' for a switch), its `help`, its default
 * (`fallback`), its reader (`read`), and in `more` the rest of its spec (`shown`, `note`, `key`, `line`,
 * `env`).
 */
export const option = (arg, help, fallback, read, more) => ({ arg, help, default: fallback, read, ...more });

function helpLine(
  flag,
  { arg, help, env, default: value, shown = value, note },
  [flagWidth, textWidth, envWidth],
) {
  const start = `  ${`--${flag}${arg ? ` ${arg}` : ''}`.padEnd(flagWidth)}`;
  const envText = env && (arg ? env : `${env}=1`);
  const defaultText = shown === undefined ? '' : `default ${shown}`;
  const envCell = envText === undefined ? '' : defaultText ? envText.padEnd(envWidth) : envText;
  const line =
    envCell || defaultText
      ? `${start}${help.padEnd(textWidth - 1)} ${envCell}${defaultText}`
      : `${start}${help}`;
  return note === undefined ? line : `${line}\n${' '.repeat(flagWidth + 2)}${note}`;
}

/** A reader of an integer from `min` to `max`, or of at least `min` (`10s` reads as 10). */
export const int =
  (min, max = Number.POSITIVE_INFINITY) =>
  (value, flag, { fail }) => {
    const n = Number(String(value).replace(/s$/, ''));
    const range = max < Number.POSITIVE_INFINITY ? `from ${min} to ${max}` : `≥ ${min}`;
    if (!Number.isInteger(n) || n < min || n > max)
      fail(`--${flag} must be an integer ${range}, got ${value}`);
    return n;
  };

/** A reader of a comma list of items of `all` (all of them when not given), in the order of `all`. */
export const list =
  (all) =>
  (value, flag, { fail }) => {
    if (value === undefined || value.trim() === '') return [...all];
    const picked = value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const item of picked) if (!all.includes(item)) fail(`unknown ${flag} "${item}" (${all.join(', ')})`);
    return all.filter((item) => picked.includes(item));
  };

/** The reader of a value taken as it is. */
export const string = (value) => value;

/** The reader of a URL given with or without a trailing slash, without it. */
export const url = (value) => value.replace(/\/+$/, '');

/** --out of bench/<script>.mjs: where the report goes, by default bench/RESULTS-<script>.md. */
export const outOption = (help, script) =>
  option('<file>', help, join(BENCH_DIR, `RESULTS${script ? `-${script}` : ''}.md`), string, {
    shown: `bench/RESULTS${script ? `-${script}` : ''}.md`,
  });

/** --rerender, which rewrites the report from a run's summary.json (`where`: which one, as the help says). */
export const rerenderOption = (where, arg = '<file>') =>
  option(arg, `no run: rewrite the report from ${where}`, undefined, undefined, { env: false });

/**
 * The command line of bench/<script>.mjs, a runner of the reference service (see commandLine()). Every
 * such runner takes --duration, --warmup, --connections, --rounds, --servers (a comma list of `servers`),
 * --pool, --pg, --database (default `database`), --port (default `port`), --out (default
 * bench/RESULTS-<script>.md) and --rerender. Its own options stand in the help and in `opts` in three
 * places: `load` after --rounds (what is measured), `stores` after --database (other servers the service
 * uses), `modes` after --rerender (runs that are no benchmark). `notes` follow the list in the help.
 * Returns the runner: { script, name (bench:<script>, the prefix of its log lines), flags, opts, fail }.
 */
export function serviceCommandLine({
  script,
  servers,
  database,
  port,
  load = {},
  stores = {},
  modes = {},
  notes,
}) {
  const runner = commandLine({
    name: `bench:${script}`,
    usage: `Usage: node bench/${script}.mjs [options]\n`,
    columns: [20, 47],
    options: {
      duration: option('<s>', 'measured run per server/route, seconds', '15', int(1, 600)),
      warmup: option('<s>', 'discarded warm-up before it (0 = none)', '5', int(0, 600)),
      connections: option('<n>', 'wrk connections (-c)', '64', int(1, 10_000)),
      rounds: option('<n>', 'rounds; the median round is reported', '3', int(1, 20)),
      ...load,
      servers: option('<list>', '', undefined, list(servers), {
        line: `  --servers <list>    comma list of ${servers.join(',')}  default all`,
      }),
      pool: option('<n>', 'PostgreSQL connections per server (DB_POOL)', '16', int(1, 1000), {
        shown: "16 (weir's default)",
      }),
      pg: option('<url>', 'PostgreSQL server, without a database', 'postgres://postgres@127.0.0.1:5432', url),
      database: option('<name>', 'database, dropped and recreated', database, string),
      ...stores,
      port: option('<n>', 'port the servers listen on (127.0.0.1)', port, int(1024, 65535)),
      out: outOption('the report', script),
      rerender: rerenderOption(`a run's results/raw/${script}-<timestamp>/summary.json`),
      ...modes,
    },
    notes,
  });
  const { opts, fail } = runner;
  if (!/^[a-z_][a-z0-9_]*$/.test(opts.database)) fail('--database must be a plain lower-case identifier');
  if (!/^postgres(ql)?:\/\/[^/]*(127\.0\.0\.1|localhost)(:\d+)?$/.test(opts.pg))
    fail('--pg must be a postgres:// URL on 127.0.0.1 or localhost, without a database');
  return { script, ...runner };
}
