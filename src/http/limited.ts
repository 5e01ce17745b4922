import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { OverloadLimiter } from '../overload/limiter.ts';
import type { Route } from './route.ts';

/**
 * The overload limiter's view of a connection: when its last answer went out, so that a request that has
 * to wait can be told apart as coming from an idle client (a new connection, or one quiet for
 * `idleClientMs` since its previous answer) or from a client looping back-to-back (see overload/queue.ts).
 * One number on the socket, written when a limited request ends or is shed.
 */
const kAnsweredAt = Symbol('weir.answeredAt');

interface Marked {
  [kAnsweredAt]?: number;
}

/**
 * True when the client of a request that must wait was idle for `idleMs` (or the connection is new);
 * always false with `idleMs` 0. The connection then counts as busy until its answer: a request pipelined
 * behind it is not idle.
 */
export function idleClient(socket: Socket, now: number, idleMs: number): boolean {
  if (idleMs === 0) return false;
  const marked = socket as Marked;
  const last = marked[kAnsweredAt];
  marked[kAnsweredAt] = Number.POSITIVE_INFINITY;
  return last === undefined || now - last >= idleMs;
}

/** Notes that `socket` had an answer (or a shed) at `now`. */
export function answered(socket: Socket, now: number): void {
  (socket as Marked)[kAnsweredAt] = now;
}

/** Gives a request's slot back: its latency, and whether it ended as a sign of overload (503, 504). */
export function giveBack(
  limiter: OverloadLimiter,
  socket: Socket,
  res: ServerResponse,
  route: Route,
  started: number,
  inFlight: number,
): void {
  const status = res.statusCode;
  const now = performance.now();
  answered(socket, now);
  limiter.release(now - started, route.latency, inFlight, status === 503 || status === 504, now);
}
