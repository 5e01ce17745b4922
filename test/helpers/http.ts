import { once } from 'node:events';
import { type Agent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { App, ServerHandle } from 'weir';

/** Starts `app` on an ephemeral port, with no signal handlers, quiet. */
export function serve(app: App<object>): Promise<ServerHandle> {
  return app.listen({ port: 0, host: '127.0.0.1', signals: false });
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One request with node:http (no path normalisation, unlike fetch). */
export function request(
  handle: { port: number },
  options: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** Keeps the connection for the next request with the same agent; a new connection by default. */
    agent?: Agent;
  },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: handle.port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers,
        agent: options.agent ?? false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Writes `text` on a raw TCP connection and resolves with everything the server sends until it closes. */
export function raw(port: number, text: string, { timeoutMs = 5000 } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('latin1'));
      else reject(err);
    });
    socket.write(text);
  });
}

/** A promise with its resolver, for coordinating a test with a handler. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A kept-alive connection: the socket, a reader of its next response, and when the server closed it. */
export interface KeptAlive {
  socket: Socket;
  /** The answer to the first `GET /`, head and body. */
  first: string;
  /** The next complete response (head and a body of content-length), or '' once the socket closed. */
  next: () => Promise<string>;
  /** `performance.now()` when the socket closed; `undefined` while it is open. */
  closedAt: () => number | undefined;
}

/** Opens a keep-alive connection and has one `GET /` answered on it (asserted 200). */
export async function keptAlive(port: number): Promise<KeptAlive> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let buffered = '';
  let closedAt: number | undefined;
  let wake: (() => void) | undefined;
  socket.on('data', (c: Buffer) => {
    buffered += c.toString('latin1');
    wake?.();
  });
  socket.on('close', () => {
    closedAt = performance.now();
    wake?.();
  });
  socket.on('error', () => undefined);
  const next = async (): Promise<string> => {
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(buffered.slice(0, Math.max(0, end)));
      if (end >= 0 && length !== null && buffered.length >= end + 4 + Number(length[1])) {
        const response = buffered.slice(0, end + 4 + Number(length[1]));
        buffered = buffered.slice(response.length);
        return response;
      }
      if (closedAt !== undefined) return '';
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  };
  socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
  const first = await next();
  if (!/^HTTP\/1\.1 200/.test(first)) throw new Error(`expected a 200, got ${JSON.stringify(first)}`);
  return { socket, first, next, closedAt: () => closedAt };
}
