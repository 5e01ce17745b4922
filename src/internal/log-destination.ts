import { writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { SonicBoom } from 'sonic-boom';

// Loaded with the first destination, so an app that writes no log (`logger: false`) never loads it.
const require = createRequire(import.meta.url);

/**
 * At exit, how many times a full pipe is retried (every 100 ms) before the lines still waiting are given
 * up: a reader that stopped reading holds the exit for at most a second.
 */
const EXIT_RETRIES = 10;

/** What stdout may hold waiting for a slow reader before lines are dropped (and counted). */
const STDOUT_MAX_PENDING_BYTES = 16 * 1024 * 1024;

export interface LogDestinationOptions {
  /** A file descriptor (1: stdout) … */
  fd?: number;
  /** … or a file, appended to (its folder is made). */
  dest?: string;
  /** Bytes waiting to be written past which new lines are dropped, with a `drop` event. */
  maxLength?: number;
  /** For the one-line warning on stderr when writing fails: `access log /var/log/weir.log`. */
  name: string;
}

/**
 * A pino destination that cannot keep its process alive: lines are written asynchronously (sonic-boom)
 * and flushed once more at exit, where a reader that is gone (EPIPE), a full disk (ENOSPC) or any other
 * write error ends the flush instead of retrying it for good, and a full pipe (EAGAIN: the descriptor must
 * be in non-blocking mode, see {@link stdoutDestination}) is retried for at most {@link EXIT_RETRIES} ×
 * 100 ms. (pino's own destination retries every error forever at exit: a log collector that died made
 * SIGTERM hang the process.) While the process runs, a full pipe is retried as long as it takes; a reader
 * that is gone stops the writing for good (a pipe cannot come back); another error is reported once on
 * stderr and the writing goes on, within `maxLength`.
 */
export function logDestination(options: LogDestinationOptions): SonicBoom {
  const { name, ...target } = options;
  let exiting = false;
  let exitRetries = 0;
  const { SonicBoom: Destination } = require('sonic-boom') as typeof import('sonic-boom');
  const stream = new Destination({
    ...target,
    mkdir: target.dest !== undefined,
    sync: false,
    retryEAGAIN: () => !exiting || ++exitRetries <= EXIT_RETRIES,
  });
  let reported = false;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (!reported) {
      reported = true;
      const what = err.code === 'EPIPE' ? 'its reader is gone; no more lines are written' : err.code;
      try {
        writeSync(2, `weir: cannot write the ${name}: ${what ?? err.message}\n`);
      } catch {
        // stderr is gone too: nothing is left to tell
      }
    }
    if (err.code === 'EPIPE') {
      const none = () => true;
      stream.write = none;
      stream.flush = (cb?: (err?: Error) => unknown) => void cb?.();
      stream.flushSync = () => {};
    }
  });
  const onExit = (): void => {
    exiting = true;
    try {
      stream.flushSync();
    } catch {
      // not open yet, or the write failed: the process exits anyway
    }
  };
  process.on('exit', onExit);
  stream.once('close', () => process.off('exit', onExit));
  return stream;
}

let stdout: SonicBoom | undefined;

/**
 * The process's one stdout destination, shared by every logger weir makes. It asks for Node's own stdout
 * stream first, which puts a pipe's descriptor in non-blocking mode (as in any program that calls
 * `console.log`; pino's own destination did the same): a full pipe then answers EAGAIN, retried on a
 * timer, and at exit within a bound. Left blocking (a shell's pipe or Docker's FIFO is, until then), each
 * write to a reader that stopped reading would wait in the kernel: a thread of libuv's pool while the
 * process runs, and at exit the process itself, for good.
 */
export function stdoutDestination(): SonicBoom {
  stdout ??= logDestination({
    fd: process.stdout.fd ?? 1, // a worker thread's stream has no descriptor: the process's stdout is 1
    maxLength: STDOUT_MAX_PENDING_BYTES,
    name: 'log to stdout',
  });
  return stdout;
}
