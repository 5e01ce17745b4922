/**
 * What a request's work runs under: its signal (`ctx.signal`) and its task group (`ctx.tasks`), each made
 * on first use. The signal aborts once, at the first of: the client leaving before the response has been
 * sent, the response having been sent, the request's deadline (armed by deadline.ts), a drain's deadline
 * (server.ts). Work spawned into the task group gets that signal.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { scopedController } from '../concurrency/signal.ts';
import { TaskGroup } from '../concurrency/task-group.ts';

// One reason of each kind for every request: a DOMException captures a stack when made, which cost more
// than the rest of the abort when it was made per request.
let responseDoneReason: DOMException | undefined;
let clientGoneReason: DOMException | undefined;
const responseDone = (): DOMException =>
  (responseDoneReason ??= new DOMException('The response has been sent', 'AbortError'));
const clientGone = (): DOMException =>
  (clientGoneReason ??= new DOMException('The client closed the connection', 'AbortError'));

/** The controller of a request's signal, aborted when its response closes (see the top of this file). */
export function requestController(req: IncomingMessage, res: ServerResponse): AbortController {
  const controller = scopedController();
  // `writableEnded`: weir handed the whole response over; anything else at close is a client that left.
  const done = (): void => controller.abort(res.writableEnded ? responseDone() : clientGone());
  if (res.destroyed || res.writableEnded || req.socket?.destroyed === true) done();
  else res.once('close', done);
  return controller;
}

/**
 * A task group bound to a request's signal. Once the signal aborts, a group the handler never joined is
 * waited for in the background and its failures go to `onFailure` (a group the handler joined has thrown
 * them to it already; children cancelled by the signal are not failures).
 */
export function requestTasks(signal: AbortSignal, onFailure: (err: unknown) => void): TaskGroup {
  const group = new TaskGroup({ signal });
  const settle = (): void => {
    if (group.closed) return;
    group.wait().catch((err: unknown) => {
      if (err !== signal.reason) onFailure(err);
    });
  };
  if (signal.aborted) settle();
  else signal.addEventListener('abort', settle, { once: true });
  return group;
}
