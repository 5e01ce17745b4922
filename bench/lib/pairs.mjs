// Paired runs (bench/db-paired.mjs, bench/http-paired.mjs): two servers pinned to one core, each under its
// own wrk at the same time, so whatever the machine does to one it does to the other.

import { parseWrk } from './common.mjs';
import { measureWrk, wrkCommand } from './processes.mjs';

/**
 * One run of both wrk at once on `ports`, GET `path` (or what `script` sends), `seconds` long; the wrk of
 * `ports[first]` is spawned first (callers alternate it from pair to pair). Resolves to one
 * { rps, bad } per port: 2xx answers a second (wrk's req/s counts every answer, and a 503 is not a
 * served request) and socket errors + non-2xx answers; or to undefined, logged under `name`, when a wrk
 * output has no result.
 */
export async function pairRun({ pin, ports, connections, seconds, path, script, first, name }) {
  const runs = ports.map(
    (port) => () => measureWrk(wrkCommand(pin, { connections, port }, seconds, path, script), seconds),
  );
  const started = [];
  for (const i of first === 0 ? [0, 1] : [1, 0]) started[i] = runs[i]();
  const texts = (await Promise.all(started)).map((r) => r.text);
  try {
    return texts.map((text) => {
      const r = parseWrk(text);
      const bad = r.socketErrors + r.non2xx;
      return { rps: r.requests ? (r.rps * Math.max(0, r.requests - r.non2xx)) / r.requests : r.rps, bad };
    });
  } catch (err) {
    console.log(`${name}: a pair without a result, left out: ${err.message}\n${texts.join('\n')}`);
    return undefined;
  }
}
