import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { connect as netConnect, type Socket } from 'node:net';
import WebSocket from 'ws';

/** A `ws` client with its messages collected. */
export interface Client {
  readonly ws: WebSocket;
  readonly messages: (string | Buffer)[];
  /** Resolves once `count` messages have arrived (fails after 5 s). */
  until(count: number): Promise<void>;
  /** Resolves with the close code and reason (fails after 5 s). */
  closed(): Promise<{ code: number; reason: string }>;
}

/** Opens a WebSocket; rejects with the refusal's status and body when the handshake is refused. */
export function open(
  url: string,
  options: WebSocket.ClientOptions & { protocols?: string[] } = {},
): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options.protocols, options);
    const messages: (string | Buffer)[] = [];
    let closedWith: { code: number; reason: string } | undefined;
    ws.on('message', (data: Buffer, binary) => messages.push(binary ? data : data.toString()));
    ws.on('close', (code, reason) => {
      closedWith = { code, reason: reason.toString() };
    });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () =>
        reject(
          Object.assign(new Error(`refused ${res.statusCode}`), {
            status: res.statusCode,
            headers: res.headers,
            body,
          }),
        ),
      );
    });
    ws.once('error', reject);
    ws.once('open', () => {
      ws.off('error', reject);
      ws.on('error', () => {});
      resolve({
        ws,
        messages,
        until: (count) =>
          waitFor(() => messages.length >= count, `${count} messages (got ${messages.length})`),
        closed: async () => {
          await waitFor(() => closedWith !== undefined, 'the close');
          return closedWith!;
        },
      });
    });
  });
}

/** Resolves when `done()` holds, checking every 5 ms for at most `ms`. */
export async function waitFor(done: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!done()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The refusal of a handshake that must fail: its status and parsed JSON body. */
export async function refusal(
  url: string,
  options: WebSocket.ClientOptions = {},
): Promise<{
  status: number;
  body: { error: { code: string; message: string } };
  headers: Record<string, unknown>;
}> {
  try {
    const client = await open(url, options);
    client.ws.terminate();
  } catch (err) {
    const e = err as { status?: number; body?: string; headers?: Record<string, unknown> };
    if (e.status === undefined) throw err;
    return { status: e.status, body: JSON.parse(e.body!), headers: e.headers! };
  }
  throw new Error(`the handshake to ${url} was accepted`);
}

/**
 * A handshake on a bare TCP socket, then nothing: the socket is paused, so it reads nothing (no
 * message, no ping, no close) and the kernel's buffers fill.
 */
export function rawUpgrade(port: number, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    socket.setTimeout(5000, () => socket.destroy(new Error('no 101 within 5 s')));
    let head = '';
    const onData = (c: Buffer): void => {
      head += c.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(head));
      socket.pause();
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** Records the `weir:ws` events while `fn` runs the test. */
export function recordWs(): {
  events: { type: string; path: string; code?: number; reason?: string }[];
  stop(): void;
} {
  const events: { type: string; path: string; code?: number; reason?: string }[] = [];
  const listener = (message: unknown): void => {
    const { type, path, code, reason } = message as {
      type: string;
      path: string;
      code?: number;
      reason?: string;
    };
    events.push(type === 'open' ? { type, path } : { type, path, code, reason });
  };
  subscribe('weir:ws', listener);
  return { events, stop: () => unsubscribe('weir:ws', listener) };
}
