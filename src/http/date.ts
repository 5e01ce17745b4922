/**
 * The `Date` response header, formatted once a second instead of once a response.
 *
 * The cached string is replaced on the first call in a new second, so it never lags the clock (a timer
 * refreshing it once a second showed the previous second for up to a second). The check is one
 * `Date.now()` per response.
 */

let cached = '';
let nextSecond = 0;

/** The current date as an IMF-fixdate (RFC 9110 §5.6.7). */
export function httpDate(): string {
  const now = Date.now();
  if (now >= nextSecond) {
    cached = new Date(now).toUTCString();
    nextSecond = now - (now % 1000) + 1000;
  }
  return cached;
}
