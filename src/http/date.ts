/**
 * The `Date` response header, formatted once a second instead of once a response.
 *
 * Servers hold the ticker while they listen ({@link holdDateTicker}); without one running (for example
 * under `inject()`), {@link httpDate} formats the date on demand.
 */

let cached = '';
let ticker: NodeJS.Timeout | undefined;
let holders = 0;

function tick(): void {
  cached = new Date().toUTCString();
}

/** The current date as an IMF-fixdate (RFC 9110 §5.6.7). */
export function httpDate(): string {
  return ticker === undefined ? new Date().toUTCString() : cached;
}

/** Starts the one-second ticker (reference counted); returns the function that releases it. */
export function holdDateTicker(): () => void {
  holders++;
  if (ticker === undefined) {
    tick();
    ticker = setInterval(tick, 1000);
    ticker.unref();
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0 && ticker !== undefined) {
      clearInterval(ticker);
      ticker = undefined;
    }
  };
}
