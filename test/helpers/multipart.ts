import { existsSync, readdirSync, statfsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { App, type AppOptions } from 'weir';
import { type MultipartOptions, multipart, type SaveUploadsOptions, saveUploads } from 'weir/upload';

/** A 1×1 PNG: what file-type recognises as image/png. */
export const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==',
  'base64',
);
/** The start of a PDF, padded. */
export const PDF = Buffer.concat([
  Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n'),
  Buffer.alloc(512, 0x20),
]);

export const BOUNDARY = 'weir-test-boundary-7MA4YWxkTrZu0gW';

export interface PartSpec {
  /** The field name (`undefined`: a Content-Disposition without one; `null`: no Content-Disposition). */
  name?: string | null;
  filename?: string;
  type?: string;
  body: string | Buffer;
  /** Raw header lines instead of the ones built from the fields above. */
  headers?: string[];
}

/** A multipart/form-data body of `parts`, with its closing boundary unless `close` is false. */
export function formBody(parts: readonly PartSpec[], { boundary = BOUNDARY, close = true } = {}): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let lines = part.headers;
    if (lines === undefined) {
      lines = [];
      if (part.name !== null) {
        let disposition = 'form-data';
        if (part.name !== undefined) disposition += `; name="${part.name}"`;
        if (part.filename !== undefined) disposition += `; filename="${part.filename}"`;
        lines.push(`Content-Disposition: ${disposition}`);
      }
      if (part.type !== undefined) lines.push(`Content-Type: ${part.type}`);
    }
    // UTF-8 header values, as browsers send them.
    chunks.push(Buffer.from(`--${boundary}\r\n${lines.join('\r\n')}\r\n\r\n`));
    chunks.push(typeof part.body === 'string' ? Buffer.from(part.body) : part.body);
    chunks.push(Buffer.from('\r\n'));
  }
  if (close) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: { error?: { code: string; message: string; details?: Record<string, unknown> } } & Record<
    string,
    unknown
  >;
}

/**
 * POSTs `body` with node:http (Content-Length set unless `chunked`), as multipart/form-data with
 * {@link BOUNDARY} unless `contentType` says otherwise. Resolves with the answer, even when the server
 * closes the connection before the whole body was sent.
 */
export function post(
  port: number,
  path: string,
  body: Buffer,
  { contentType = `multipart/form-data; boundary=${BOUNDARY}`, chunked = false } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-type': contentType };
    if (!chunked) headers['content-length'] = body.length;
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json = {};
          try {
            json = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
        res.on('error', reject);
      },
    );
    // The server may answer and close before the whole body is written (a limit passed): that is the
    // answer under test, not a failure.
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    if (chunked) {
      // Several chunks, so the body streams.
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** Opens a raw connection and writes a request head for a multipart POST of `length` bytes. */
export function openUpload(port: number, path: string, length: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\n` +
          `Content-Length: ${length}\r\n\r\n`,
      );
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

/** The types the upload tests allow. */
export const ALLOW = ['image/png', 'image/jpeg', 'application/pdf'];
/** The name saveUploads() stores a file under. */
export const UUID_NAME =
  /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.(png|pdf|jpg|bin)$/;

/** The names in `dir`; none while it does not exist. */
export function list(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** The bytes free on the file system of `dir`. */
export function freeBytes(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

/** Polls `dir` (at most 2 s) until it is empty; resolves with what it still holds. */
export async function emptied(dir: string): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    if (list(dir).length === 0) return [];
    await sleep(20);
  }
  return list(dir);
}

/** An app whose POST /upload saves into `dir` with `options`; `saved` is what the last call ended with. */
export function uploadApp(
  dir: string,
  options: Partial<SaveUploadsOptions> = {},
  appOptions: AppOptions = {},
) {
  const outcome: { saved?: unknown; error?: unknown } = {};
  const app = new App({ logger: false, ...appOptions });
  app.post('/upload', async (ctx) => {
    try {
      const result = await saveUploads(ctx, { dir, allow: ALLOW, ...options });
      outcome.saved = result;
      ctx.status(201);
      return result;
    } catch (err) {
      outcome.error = err;
      throw err;
    }
  });
  return { app, outcome };
}

/** Polls `dir` (at most 2 s) until it holds only `keep`; resolves with what it holds. */
export async function emptiedBut(dir: string, keep: string[]): Promise<string[]> {
  for (let i = 0; i < 100; i++) {
    const names = readdirSync(dir).sort();
    if (names.join() === keep.join()) return names;
    await sleep(20);
  }
  return readdirSync(dir).sort();
}

/** Each route echoes what multipart() yielded: fields whole, files as their size, type and first bytes. */
export function echoApp(): App {
  const app = new App({ logger: false });
  const route = (path: string, options: MultipartOptions) =>
    app.post(path, async (ctx) => {
      const parts: unknown[] = [];
      for await (const part of multipart(ctx, options)) {
        if (part.type === 'field') {
          parts.push({ field: part.name, value: part.value });
          continue;
        }
        const chunks: Buffer[] = [];
        for await (const chunk of part.stream) chunks.push(chunk as Buffer);
        const bytes = Buffer.concat(chunks);
        parts.push({
          file: part.name,
          filename: part.filename,
          type: part.contentType,
          verified: part.verified,
          declared: part.declaredType,
          extension: part.extension,
          size: bytes.length,
          sum: bytes.reduce((a, b) => (a + b) % 65536, 0),
        });
      }
      return { parts };
    });
  route('/echo', {});
  route('/small', {
    maxFileBytes: 1000,
    maxTotalBytes: 20_000,
    maxFiles: 2,
    maxFields: 3,
    maxFieldBytes: 100,
    maxFieldNameBytes: 20,
    maxParts: 6,
  });
  route('/typed', { allow: ['image/png', 'image/jpeg', 'application/pdf', 'text/plain', 'text/csv'] });
  route('/images', { allow: ['image/*'] });
  // Reads one file's first bytes, then leaves the loop: the rest of the body is not read.
  app.post('/first', async (ctx) => {
    for await (const part of multipart(ctx)) {
      if (part.type === 'file') return { name: part.name };
    }
    return { name: null };
  });
  return app;
}

/** A checksum of bytes, to compare what was sent with what a handler read. */
export const sum = (bytes: Buffer): number => bytes.reduce((a, b) => (a + b) % 65536, 0);
