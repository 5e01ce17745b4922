/**
 * A local upstream for HTTP client tests: a node:http server on 127.0.0.1 and an ephemeral port, with a
 * handler per test, that counts what a client does to it: requests, sockets open now, the most open at
 * once, and sockets closed. `close()` destroys whatever is still open.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { sleep } from 'weir';

export type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

export interface Upstream {
  readonly url: string;
  readonly origin: string;
  /** Requests received so far. */
  readonly requests: number;
  /** When each request arrived (Date.now()). */
  readonly arrivals: number[];
  /** Sockets open now. */
  readonly open: number;
  /** The most sockets open at once. */
  readonly maxOpen: number;
  /** Sockets closed so far. */
  readonly closed: number;
  /** Waits (bounded) until `done()` holds; throws naming `what` when it does not in time. */
  until(done: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function upstream(handler: Handler): Promise<Upstream> {
  const sockets = new Set<Socket>();
  const arrivals: number[] = [];
  let maxOpen = 0;
  let closed = 0;
  const server: Server = createServer((req, res) => {
    arrivals.push(Date.now());
    handler(req, res, arrivals.length);
  });
  server.on('connection', (socket: Socket) => {
    if (sockets.has(socket)) return;
    sockets.add(socket);
    maxOpen = Math.max(maxOpen, sockets.size);
    socket.on('close', () => {
      sockets.delete(socket);
      closed++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    origin,
    get requests() {
      return arrivals.length;
    },
    arrivals,
    get open() {
      return sockets.size;
    },
    get maxOpen() {
      return maxOpen;
    },
    get closed() {
      return closed;
    },
    async until(done, what, timeoutMs = 5000) {
      for (let waited = 0; waited < timeoutMs && !done(); waited += 5) await sleep(5);
      if (!done()) throw new Error(`the upstream did not see ${what} within ${timeoutMs} ms`);
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
