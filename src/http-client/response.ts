/**
 * A response of weir/http-client: status, headers, and the body read whole, within `maxBodyBytes`. A
 * body that would pass the limit is not read further: its stream is destroyed, which closes the
 * connection rather than handing a half-read one back to the pool.
 */
import secureJson from 'secure-json-parse';
import { upstreamError } from './errors.ts';

/** Response headers: names in lower case; a header sent more than once (`set-cookie`) as an array. */
export type IncomingHttpHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** What a call of weir/http-client resolves to, for any status the upstream answered with. */
export interface UpstreamResponse {
  /** The status code. */
  readonly status: number;
  /** True for 2xx. */
  readonly ok: boolean;
  /** The response headers, names in lower case. */
  readonly headers: IncomingHttpHeaders;
  /** The body, read whole. */
  readonly body: Buffer;
  /** The origin that answered (`http://host:port`). */
  readonly origin: string;
  /** The body as UTF-8 text. */
  text(): string;
  /**
   * The body parsed as JSON (`__proto__` and `constructor.prototype` keys refused).
   * @throws `WEIR_ERR_UPSTREAM_INVALID` when it is not JSON.
   */
  json<T = unknown>(): T;
}

class BufferedResponse implements UpstreamResponse {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly origin: string;

  constructor(status: number, headers: IncomingHttpHeaders, body: Buffer, origin: string) {
    this.status = status;
    this.ok = status >= 200 && status < 300;
    this.headers = headers;
    this.body = body;
    this.origin = origin;
  }

  text(): string {
    return this.body.toString('utf8');
  }

  json<T = unknown>(): T {
    try {
      return secureJson.parse(this.text(), undefined, { protoAction: 'error', constructorAction: 'error' });
    } catch (err) {
      throw upstreamError(
        'WEIR_ERR_UPSTREAM_INVALID',
        'The upstream answered a body that is not JSON',
        this.origin,
        {
          cause: err,
        },
      );
    }
  }
}

/** The parts of undici's response body stream used here. */
export interface BodyStream extends AsyncIterable<Buffer> {
  destroy(error?: Error): unknown;
  dump(options?: { limit?: number; signal?: AbortSignal }): Promise<void>;
}

function tooLarge(maxBodyBytes: number, origin: string) {
  return upstreamError(
    'WEIR_ERR_UPSTREAM_TOO_LARGE',
    `The upstream answered a body larger than maxBodyBytes (${maxBodyBytes})`,
    origin,
  );
}

/**
 * Reads `body` whole, at most `maxBodyBytes` of it.
 * @throws `WEIR_ERR_UPSTREAM_TOO_LARGE` (the stream destroyed) when it is larger.
 */
export async function readBody(
  status: number,
  headers: IncomingHttpHeaders,
  body: BodyStream,
  maxBodyBytes: number,
  origin: string,
): Promise<UpstreamResponse> {
  const declared = Number(headers['content-length']);
  if (declared > maxBodyBytes) {
    const err = tooLarge(maxBodyBytes, origin);
    body.destroy(err);
    throw err;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxBodyBytes) {
      const err = tooLarge(maxBodyBytes, origin);
      body.destroy(err);
      throw err;
    }
    chunks.push(chunk);
  }
  const buffer = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  return new BufferedResponse(status, headers, buffer, origin);
}
