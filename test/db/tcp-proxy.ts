/**
 * A TCP proxy in front of the real PostgreSQL, for what the server itself will not do on demand: cut
 * every connection at once, refuse new ones (a closed port), stall a connection (accept it and never
 * answer), or speak TLS to the client while the server here has TLS off (it answers PostgreSQL's
 * SSLRequest with 'S' and terminates TLS itself, forwarding plain bytes).
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

export interface ProxyOptions {
  /** Connections (numbered from 1 in arrival order) to accept and never answer. */
  stall?: (n: number) => boolean;
  /** Terminate TLS for clients that ask for it, with this key and certificate. */
  tls?: { key: string; cert: string };
}

export interface TcpProxy {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections accepted and left unanswered so far. */
  readonly stalled: number;
  /** Of those, the ones the client has not closed (or half-closed) yet. */
  readonly stalledOpen: number;
  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string;
  /** Resets every open connection (both sides) and keeps listening. */
  cut(): void;
  /** Stops listening (the port is closed) and resets every open connection. */
  close(): Promise<void>;
}

const SSL_REQUEST = 80877103;

export async function startProxy(
  target: { host: string; port: number },
  options: ProxyOptions = {},
): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let stalled = 0;
  let stalledOpen = 0;
  const track = (socket: Socket): Socket => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    return socket;
  };
  const forward = (client: Socket, first: Buffer | undefined): void => {
    const upstream = track(netConnect(target.port, target.host));
    if (first !== undefined) upstream.write(first);
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  };
  const server: Server = createServer((socket) => {
    track(socket);
    const n = ++accepted;
    if (options.stall?.(n)) {
      stalled++;
      stalledOpen++;
      let closed = false;
      const onClosed = (): void => {
        if (!closed) stalledOpen--;
        closed = true;
      };
      socket.on('end', onClosed);
      socket.on('close', onClosed);
      // Read and drop what comes, so that the client closing its end is seen ('end'), and keep this end
      // open all the same: it never answers.
      socket.allowHalfOpen = true;
      socket.resume();
      return;
    }
    const tls = options.tls;
    if (tls === undefined) {
      forward(socket, undefined);
      return;
    }
    socket.once('data', (first: Buffer) => {
      if (first.length === 8 && first.readInt32BE(4) === SSL_REQUEST) {
        socket.write('S');
        const secure = track(new TLSSocket(socket, { isServer: true, key: tls.key, cert: tls.cert }));
        forward(secure, undefined);
      } else {
        forward(socket, first);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const cut = (): void => {
    for (const socket of sockets) {
      // A TLS socket has no handle of its own to reset: the plain socket under it is reset instead.
      if (socket instanceof TLSSocket) socket.destroy();
      else socket.resetAndDestroy();
    }
  };
  return {
    port,
    get accepted() {
      return accepted;
    },
    get stalled() {
      return stalled;
    },
    get stalledOpen() {
      return stalledOpen;
    },
    url(url: string): string {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    cut,
    close(): Promise<void> {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      cut();
      return closed;
    },
  };
}
