import { HttpError, sleep } from 'weir';

/** Calls started, and calls stopped by their signal before they finished. */
export const upstream = { started: 0, aborted: 0 };

/**
 * Stands in for a query or an HTTP call that honours its signal: 5 ms (10 s for "slow"), and a 503
 * for "broken".
 */
export async function fetchPrice(item: string, signal: AbortSignal): Promise<number> {
  upstream.started++;
  try {
    await sleep(item === 'slow' ? 10_000 : 5, { signal });
  } catch (err) {
    upstream.aborted++;
    throw err;
  }
  if (item === 'broken') throw HttpError.unavailable('The price service is unavailable', 1);
  return item.length;
}
