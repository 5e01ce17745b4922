import { createRequire } from 'node:module';
import { stdoutDestination } from './log-destination.ts';

// pino (and its destination) load with the first logger weir makes: an app given `logger: false`, or a
// logger of its own, never loads them (~7 MB of resident memory).
const require = createRequire(import.meta.url);

/** The logger weir writes to: pino's interface, which pino loggers satisfy. */
export interface Logger {
  error(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  debug(obj: unknown, msg?: string): void;
  /** A logger whose lines all carry `bindings` (pino's `child`); without it weir merges them itself. */
  child?(bindings: Record<string, unknown>): Logger;
}

const noop = (): void => {};

/** A logger that writes nothing: the default of parts that are given none. */
export const silentLogger: Logger = Object.freeze({ error: noop, warn: noop, info: noop, debug: noop });

/**
 * The logger a weir part uses when given none: pino (JSON lines on stdout, through the process's one
 * {@link stdoutDestination}: a log reader that is gone or stuck cannot keep the process from exiting) at
 * `LOG_LEVEL` (default `info`); under `weir dev` (`WEIR_DEV=1`) a readable one-line-per-event logger
 * instead.
 */
export function defaultLogger(name?: string): Logger {
  const level = process.env.LOG_LEVEL ?? 'info';
  if (process.env.WEIR_DEV === '1') return readableLogger(level, name);
  const { pino } = require('pino') as typeof import('pino');
  return pino({ level, ...(name === undefined ? {} : { name }) }, stdoutDestination());
}

/**
 * A logger whose every line carries `bindings`: the logger's own `child()` when it has one (pino), else a
 * wrapper that merges them into each line's object (a line logged with a bare message gets them alone).
 */
export function childLogger(log: Logger, bindings: Record<string, unknown>): Logger {
  if (log === silentLogger) return log;
  if (typeof log.child === 'function') return log.child(bindings);
  const merge =
    (at: 'error' | 'warn' | 'info' | 'debug') =>
    (obj: unknown, msg?: string): void => {
      if (typeof obj === 'object' && obj !== null && !(obj instanceof Error))
        log[at]({ ...bindings, ...obj }, msg);
      else if (obj instanceof Error) log[at]({ ...bindings, err: obj }, msg);
      else log[at](bindings, msg ?? (obj === undefined ? undefined : String(obj)));
    };
  return {
    error: merge('error'),
    warn: merge('warn'),
    info: merge('info'),
    debug: merge('debug'),
    child: (more) => childLogger(log, { ...bindings, ...more }),
  };
}

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** `12:00:01 INFO  listening url=http://127.0.0.1:8080`: for people reading a terminal. */
function readableLogger(level: string, name: string | undefined): Logger {
  const min = level === 'silent' ? LEVELS.length : Math.max(0, LEVELS.indexOf(level as never));
  const write = (at: (typeof LEVELS)[number]) => (obj: unknown, msg?: string) => {
    if (LEVELS.indexOf(at) < min) return;
    const time = new Date().toTimeString().slice(0, 8);
    const fields: string[] = [];
    let stack = '';
    if (typeof obj === 'object' && obj !== null) {
      for (const [key, value] of Object.entries(obj)) {
        if (value instanceof Error) {
          fields.push(`${key}=${JSON.stringify(value.message)}`);
          stack = `\n${value.stack ?? ''}`;
        } else {
          fields.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
        }
      }
    } else if (obj !== undefined) {
      msg = msg ?? String(obj);
    }
    const prefix = `${time} ${at.toUpperCase().padEnd(5)}${name === undefined ? '' : ` [${name}]`}`;
    process.stdout.write(
      `${prefix} ${msg ?? ''}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}${stack}\n`,
    );
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}
