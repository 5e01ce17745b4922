/**
 * A logger that keeps what it is given, for asserting what reaches the log. Each entry is also rendered
 * as pino renders it (errors through pino's own serializer), since that text is what an operator reads.
 */
import { pino } from 'pino';
import type { Logger } from 'weir';

export interface LogEntry {
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly obj: unknown;
  readonly msg: string | undefined;
  /** The line as pino would write it (minus time and pid). */
  readonly line: string;
}

export interface CapturingLogger extends Logger {
  readonly entries: LogEntry[];
  /** Every line, joined: what the whole log says. */
  text(): string;
  /**
   * Resolves when an entry matching `test` arrives (or has arrived); rejects if none has within
   * `withinMs` (a bound on the wait, so a missing line fails the test instead of hanging it).
   */
  waitFor(test: (entry: LogEntry) => boolean, withinMs?: number): Promise<LogEntry>;
}

function render(obj: unknown, msg: string | undefined): string {
  const fields: Record<string, unknown> = {};
  if (typeof obj === 'object' && obj !== null) {
    for (const [key, value] of Object.entries(obj)) {
      fields[key] = value instanceof Error ? pino.stdSerializers.err(value) : value;
    }
  }
  return JSON.stringify({ ...fields, msg }, (_key, value) =>
    typeof value === 'bigint' ? String(value) : value,
  );
}

export function capturingLogger(): CapturingLogger {
  const entries: LogEntry[] = [];
  const waiters: { test: (entry: LogEntry) => boolean; resolve: (entry: LogEntry) => void }[] = [];
  const at =
    (level: LogEntry['level']) =>
    (obj: unknown, msg?: string): void => {
      const entry = { level, obj, msg, line: render(obj, msg) };
      entries.push(entry);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const waiter = waiters[i]!;
        if (waiter.test(entry)) {
          waiters.splice(i, 1);
          waiter.resolve(entry);
        }
      }
    };
  return {
    entries,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    text: () => entries.map((e) => e.line).join('\n'),
    waitFor(test, withinMs = 5000) {
      const found = entries.find(test);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(
            new Error(
              `no matching log line within ${withinMs} ms; the log:\n${entries.map((e) => e.line).join('\n')}`,
            ),
          );
        }, withinMs);
        const waiter = {
          test,
          resolve: (entry: LogEntry) => {
            clearTimeout(timer);
            resolve(entry);
          },
        };
        waiters.push(waiter);
      });
    },
  };
}
