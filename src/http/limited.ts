import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { OverloadLimiter } from '../overload/limiter.ts';
import type { Route } from './route.ts';

/**
 * The overload limiter's view of a connection: when its last answer went out, and whether it was a 503,
 * so that a request that has to wait can be told apart as coming from an idle client (a new connection,
 * or one quiet for `idleClientMs` since its previous answer), from a client looping back-to-back, or
 * from one that retries at once after a 503 (see overload/queue.ts). One number on the socket, written
 * when a limited request ends or is shed: the time of the answer, negated for a shed.
 */
const kAnsweredAt = Symbol('weir.answeredAt');

interface Marked {
  [kAnsweredAt]?: number;
}

/** How the client of a request that must wait had behaved on its connection. */
export type ClientState = 'idle' | 'busy' | 'retry';

/**
 * `idle` when the client of a request that must wait was idle for `idleMs` (or the connection is new);
 * `retry` when it sent the request within `idleMs` of a 503 there; `busy` otherwise, and always with
 * `idleMs` 0. The connection then counts as busy until its answer: a request pipelined behind it is
 * neither idle nor a retry.
 */
export function clientState(socket: Socket, now: number, idleMs: number): ClientState {
  if (idleMs === 0) return 'busy';
  const marked = socket as Marked;
  const last = marked[kAnsweredAt];
  marked[kAnsweredAt] = Number.POSITIVE_INFINITY;
  if (last === undefined) return 'idle';
  if (last < 0) return now + last >= idleMs ? 'idle' : 'retry';
  return now - last >= idleMs ? 'idle' : 'busy';
}

/** Notes that `socket` had an answer at `now` (`shed`: a 503 of the limiter). */
export function answered(socket: Socket, now: number, shed = false): void {
  (socket as Marked)[kAnsweredAt] = shed ? -now : now;
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
