/**
 * Progress of a `weir bench` run on stderr: a bar redrawn in place on a terminal, plain lines (one when a
 * run starts, one when it ends) anywhere else, so logs and CI output stay readable.
 */

/** What the runner tells about its progress. */
export interface Progress {
  /** A run of `ms` starts; `title` names it (`A round 2/3`). */
  start(title: string, ms: number): void;
  /** `elapsedMs` of the current run have passed; `responses` so far, when the engine knows them live. */
  update(elapsedMs: number, responses: number | undefined): void;
  /** The current run ended; `summary` says how it went. */
  end(summary: string): void;
}

/** The part of a terminal stream the bar needs. */
export interface TerminalStream {
  write(text: string): unknown;
  columns?: number;
}

const fmtCount = (n: number) => Math.round(n).toLocaleString('en-US');

/** A bar on `stream`, redrawn at most every 100 ms of the run. */
export function terminalProgress(stream: TerminalStream): Progress {
  let title = '';
  let total = 1;
  let drawn = 0;
  return {
    start(t, ms) {
      title = t;
      total = Math.max(1, ms);
      drawn = 0;
      this.update(0, undefined);
    },
    update(elapsedMs, responses) {
      if (elapsedMs > 0 && elapsedMs - drawn < 100) return;
      drawn = elapsedMs;
      const share = Math.min(1, elapsedMs / total);
      const tail = ` ${String(Math.floor(share * 100)).padStart(3)}%  ${(elapsedMs / 1000).toFixed(1)}/${(total / 1000).toFixed(0)} s${
        responses === undefined ? '' : `  ${fmtCount(responses)} responses`
      }`;
      const width = Math.max(10, Math.min(40, (stream.columns ?? 80) - title.length - tail.length - 6));
      const full = Math.round(share * width);
      stream.write(`\r\x1b[2K${title} [${'#'.repeat(full)}${'.'.repeat(width - full)}]${tail}`);
    },
    end(summary) {
      stream.write(`\r\x1b[2K${title}: ${summary}\n`);
    },
  };
}

/** One line per run start and end through `line`. */
export function lineProgress(line: (text: string) => void): Progress {
  let title = '';
  return {
    start(t, ms) {
      title = t;
      line(`weir bench: ${t} (${(ms / 1000).toFixed(0)} s)`);
    },
    update() {},
    end(summary) {
      line(`weir bench: ${title}: ${summary}`);
    },
  };
}

/** Progress that shows nothing. */
export const silentProgress: Progress = { start() {}, update() {}, end() {} };
