/**
 * The `compression` option of an App, compiled once, and the rules every compressed response follows:
 * which types compress, which responses never do, and the ETag of a compressed variant.
 */
import { constants } from 'node:zlib';
import { invalidOption } from '../../errors.ts';
import type { Encoding } from './negotiate.ts';

export type { Encoding } from './negotiate.ts';

/** Options of response compression (`new App({ compression })`). */
export interface CompressionOptions {
  /**
   * Smallest body compressed, in bytes. A response whose length is unknown (a stream) counts as large.
   * @default 1024
   */
  thresholdBytes?: number;
  /**
   * Brotli quality, 0–11. The default suits responses made per request: on 10 KiB of text or JSON,
   * quality 3 compresses to within 5 % of gzip level 6's size in 40–75 % of its CPU time; 4 costs two to
   * three times what 3 does for no smaller a body, and 11 (brotli's own default) over 100 times as much.
   * @default 3
   */
  brotliQuality?: number;
  /** gzip level, 1–9. @default 6 */
  gzipLevel?: number;
  /**
   * The encodings offered, most preferred first: at equal q-values the first wins. Brotli comes first by
   * default because at the default levels it costs less CPU than gzip for about the same size.
   * @default ['br', 'gzip']
   */
  encodings?: readonly Encoding[];
}

/** The compiled option. Internal. */
export interface CompressionSettings {
  readonly thresholdBytes: number;
  readonly encodings: readonly Encoding[];
  readonly brotli: { params: Record<number, number> };
  readonly gzip: { level: number };
}

/** Bodies up to this size are compressed synchronously: a thread-pool hop costs more than they do. */
export const SYNC_MAX_BYTES = 64 * 1024;

function checkInteger(name: string, value: unknown, min: number, max: number): void {
  if (
    value !== undefined &&
    (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max)
  ) {
    throw invalidOption(`compression ${name}`, `an integer from ${min} to ${max}`, value);
  }
}

/**
 * Compiles the `compression` option: `undefined` when it is `false`.
 * @throws WEIR_ERR_INVALID_OPTION naming the first bad field.
 */
export function compileCompression(
  options: CompressionOptions | false | undefined,
): CompressionSettings | undefined {
  if (options === false) return undefined;
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw invalidOption('compression', 'an object of options or false', options);
  }
  const o = options ?? {};
  checkInteger('thresholdBytes', o.thresholdBytes, 0, Number.MAX_SAFE_INTEGER);
  checkInteger('brotliQuality', o.brotliQuality, 0, 11);
  checkInteger('gzipLevel', o.gzipLevel, 1, 9);
  const encodings = o.encodings ?? ['br', 'gzip'];
  if (
    !Array.isArray(encodings) ||
    encodings.some((e) => e !== 'br' && e !== 'gzip') ||
    new Set(encodings).size !== encodings.length
  ) {
    throw invalidOption('compression encodings', "a list of 'br' and 'gzip', each at most once", encodings);
  }
  return {
    thresholdBytes: o.thresholdBytes ?? 1024,
    encodings: [...encodings],
    brotli: {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: o.brotliQuality ?? 3,
      },
    },
    gzip: { level: o.gzipLevel ?? 6 },
  };
}

/**
 * True for media types worth compressing: text (but `text/event-stream`, which is written event by event),
 * JSON, XML, JavaScript, SVG, WebAssembly and uncompressed fonts. Everything else is left as it is:
 * images, audio, video, archives, `woff2`, `application/octet-stream` are compressed already or unknown.
 */
export function isCompressible(contentType: string): boolean {
  // An app sends few distinct types, each a constant: answered from here, with no string made.
  const known = compressibleTypes.get(contentType);
  if (known !== undefined) return known;
  const answer = judgeType(contentType);
  if (compressibleTypes.size < 256) compressibleTypes.set(contentType, answer);
  return answer;
}

const compressibleTypes = new Map<string, boolean>();

function judgeType(contentType: string): boolean {
  const semi = contentType.indexOf(';');
  const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type.startsWith('text/')) return type !== 'text/event-stream';
  if (type.endsWith('+json') || type.endsWith('+xml')) return true;
  switch (type) {
    case 'application/json':
    case 'application/x-ndjson':
    case 'application/javascript':
    case 'application/x-javascript':
    case 'application/ecmascript':
    case 'application/xml':
    case 'application/wasm':
    case 'application/x-www-form-urlencoded':
    case 'application/vnd.ms-fontobject':
    case 'font/ttf':
    case 'font/otf':
    case 'image/x-icon':
    case 'image/vnd.microsoft.icon':
    case 'image/bmp':
      return true;
    default:
      return false;
  }
}

/**
 * The ETag of a compressed variant: `"abc"` becomes `"abc-br"`, `W/"abc"` becomes `W/"abc-br"`. A
 * variant's tag must differ from the identity one's, or a cache could answer a client that accepts no
 * brotli with the brotli bytes it revalidated (RFC 9110 §8.8.3).
 */
export function variantTag(tag: string, encoding: Encoding): string {
  return tag.endsWith('"') ? `${tag.slice(0, -1)}-${encoding}"` : `${tag}-${encoding}`;
}

/** True when a `Cache-Control` value says `no-transform` (RFC 9111 §5.2.2.6). */
export function forbidsTransform(cacheControl: unknown): boolean {
  if (cacheControl === undefined) return false;
  return String(cacheControl).toLowerCase().includes('no-transform');
}

/** `value` with `accept-encoding` added to it, as a `Vary` header (kept once, `*` left alone). */
export function varyWithEncoding(value: unknown): string {
  if (value === undefined || value === '') return 'accept-encoding';
  const text = Array.isArray(value) ? value.join(', ') : String(value);
  if (text.trim() === '*') return text;
  for (const part of text.split(',')) if (part.trim().toLowerCase() === 'accept-encoding') return text;
  return `${text}, accept-encoding`;
}
