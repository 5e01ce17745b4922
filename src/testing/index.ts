/**
 * `weir/testing`: run requests through an app in-process, without a socket.
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { invalidOption } from '../errors.ts';

/** What `inject()` needs of an app. */
export interface Injectable {
  ready(): Promise<void>;
  readonly handler: (req: IncomingMessage, res: ServerResponse) => void;
}

/** A request for {@link inject}. */
export interface InjectOptions {
  /** @default 'GET' */
  method?: string;
  /** Path and query, such as `/users?limit=10`. @default '/' */
  url?: string;
  headers?: Record<string, string | string[]>;
  /**
   * The body: a string or bytes as they are, anything else as JSON (with `content-type:
   * application/json` unless `headers` set one).
   */
  body?: unknown;
  /** @default '127.0.0.1' */
  remoteAddress?: string;
}

/** The response to an injected request. */
export interface InjectResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body as UTF-8 text. */
  readonly body: string;
  /** The body as bytes. */
  readonly rawBody: Buffer;
  /** The body parsed as JSON. */
  json<T = unknown>(): T;
}

/**
 * Runs one request through the app's whole pipeline (admission, routing, middleware, body parsing,
 * error mapping) in-process, and resolves with the response. Freezes the app and runs its `onStart`
 * hooks on first use.
 * @example
 * const res = await inject(app, { method: 'POST', url: '/echo', body: { a: 1 } });
 * assert.equal(res.status, 200);
 */
export async function inject(app: Injectable, options: InjectOptions = {}): Promise<InjectResponse> {
  if (typeof app?.ready !== 'function') throw invalidOption('inject() app', 'a weir App', app);
  // Loaded on first use, so an app that never injects never loads the injector.
  const { inject: lightInject } = await import('light-my-request');
  await app.ready();
  const headers: Record<string, string | string[]> = { ...options.headers };
  let payload: string | Buffer | undefined;
  const body = options.body;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    payload = typeof body === 'string' ? body : Buffer.from(body);
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  const res = await lightInject(app.handler, {
    method: (options.method ?? 'GET') as 'GET',
    url: options.url ?? '/',
    headers,
    payload,
    remoteAddress: options.remoteAddress ?? '127.0.0.1',
  });
  return {
    status: res.statusCode,
    headers: res.headers as IncomingHttpHeaders,
    body: res.body,
    rawBody: res.rawPayload,
    json: <T>() => JSON.parse(res.body) as T,
  };
}
