import { httpError, invalidOption } from '../errors.ts';
import { loadPackage } from '../internal/load-package.ts';

/**
 * The type of an uploaded file, decided from its first bytes rather than from the `Content-Type` the
 * client wrote on the part:
 *
 * 1. file-type reads the magic numbers of the first {@link SNIFF_BYTES} bytes. When it knows the format,
 *    that is the file's type: it must be on the allow-list, and the declared type must be the same (or
 *    `application/octet-stream`, which claims nothing). A PNG declared as `image/png` passes; an HTML
 *    page declared as `image/png`, or a PDF declared as `image/png`, is refused.
 * 2. Text has no magic number. Content file-type does not recognise passes only when its declared type is
 *    a text type on the allow-list (`text/*`, `application/json`, `application/xml`, `+json`, `+xml`),
 *    its first bytes are UTF-8 with no NUL or other control character but tab, line feed, form feed and
 *    carriage return, and, unless the declared type is itself markup (`text/html`, `image/svg+xml`,
 *    `+xml`), they hold no HTML a browser would sniff (`<html`, `<script`, `<!doctype`, `<svg`, …).
 *    Anything else unrecognised (a "PNG" that is not one) is refused.
 *
 * Refusals are 415 `WEIR_ERR_UPLOAD_TYPE`; the message names the detected type and the declared one only
 * when it is a well-formed media type, never a byte of the content.
 */

/** How many leading bytes are read to decide a file's type: what file-type needs for every format. */
export const SNIFF_BYTES = 4100;

/** A file's type as decided from its content. */
export interface SniffedType {
  /** The media type, lower case, without parameters. */
  readonly type: string;
  /** A file name extension for it, without the dot (`png`, `pdf`, `txt`); `bin` when none is known. */
  readonly ext: string;
}

type FileTypeModule = {
  fileTypeFromBuffer(buffer: Uint8Array): Promise<{ ext: string; mime: string } | undefined>;
};
let fileType: Promise<FileTypeModule> | undefined;

function loadFileType(): Promise<FileTypeModule> {
  fileType ??= loadPackage<FileTypeModule>(
    'file-type',
    'Checking the type of uploaded files',
    (message, cause) => new Error(message, { cause }),
    true,
  );
  return fileType;
}

const MEDIA_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/;

/** The allow-list, compiled: exact types and `type/*` wildcards. */
export type AllowList = (type: string) => boolean;

/**
 * Compiles an allow-list of media types (`image/png`, or `image/*` for every image type).
 * @throws WEIR_ERR_INVALID_OPTION when an entry is not a media type or a `type/*` wildcard.
 */
export function compileAllow(allow: readonly string[]): AllowList {
  if (!Array.isArray(allow)) throw invalidOption('allow', 'an array of media types', allow);
  const exact = new Set<string>();
  const prefixes: string[] = [];
  for (const entry of allow) {
    const type = typeof entry === 'string' ? entry.trim().toLowerCase() : '';
    if (type.endsWith('/*') && MEDIA_TYPE.test(`${type.slice(0, -1)}x`)) prefixes.push(type.slice(0, -1));
    else if (MEDIA_TYPE.test(type)) exact.add(type);
    else throw invalidOption('allow entry', 'a media type such as "image/png" or "image/*"', entry);
  }
  return (type) => exact.has(type) || prefixes.some((prefix) => type.startsWith(prefix));
}

/** The declared type as it may be shown back: a well-formed media type, else nothing. */
export function safeMediaType(type: string): string | undefined {
  return MEDIA_TYPE.test(type) ? type : undefined;
}

/** Names that mean the same format as file-type's. */
const ALIASES: Readonly<Record<string, string>> = {
  'image/jpg': 'image/jpeg',
  'image/pjpeg': 'image/jpeg',
  'image/x-png': 'image/png',
  'application/x-pdf': 'application/pdf',
};

const TEXT_EXT: Readonly<Record<string, string>> = {
  'text/plain': 'txt',
  'text/csv': 'csv',
  'text/markdown': 'md',
  'text/html': 'html',
  'application/json': 'json',
  'application/xml': 'xml',
  'text/xml': 'xml',
  'image/svg+xml': 'svg',
};

function isTextType(type: string): boolean {
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type === 'application/xml' ||
    type.endsWith('+json') ||
    type.endsWith('+xml')
  );
}

function isMarkupType(type: string): boolean {
  return (
    type === 'text/html' || type === 'application/xhtml+xml' || type === 'text/xml' || type.endsWith('+xml')
  );
}

/**
 * Decides the type of a file from `head`, its first bytes (all of them when it is shorter than
 * {@link SNIFF_BYTES}), and its declared type.
 * @throws WEIR_ERR_UPLOAD_TYPE (415) when the content is not of an allowed type or is not what is declared.
 */
export async function sniffType(
  head: Uint8Array,
  declared: string,
  allowed: AllowList,
  field: string | undefined,
): Promise<SniffedType> {
  const { fileTypeFromBuffer } = await loadFileType();
  const detected = await fileTypeFromBuffer(head);
  const claim = ALIASES[declared] ?? declared;
  if (detected !== undefined) {
    const type = detected.mime;
    // file-type reads any XML document as application/xml: an SVG or other +xml type keeps its name.
    if (type === 'application/xml' && isMarkupType(claim) && allowed(claim)) {
      return { type: claim, ext: TEXT_EXT[claim] ?? 'xml' };
    }
    if (!allowed(type)) throw refused(`is ${type}, which is not an allowed type`, type, declared, field);
    if (claim !== type && claim !== 'application/octet-stream') {
      throw refused(`is ${type}, not the declared type`, type, declared, field);
    }
    return { type, ext: detected.ext };
  }
  if (!isTextType(claim) || !allowed(claim)) {
    throw refused('is of no allowed type that its first bytes show', undefined, declared, field);
  }
  if (!looksLikeText(head))
    throw refused('is not text, as its declared type says', undefined, declared, field);
  if (!isMarkupType(claim) && looksLikeHtml(head)) {
    throw refused('holds HTML, which its declared type does not allow', undefined, declared, field);
  }
  return { type: claim, ext: TEXT_EXT[claim] ?? 'txt' };
}

function refused(what: string, detected: string | undefined, declared: string, field: string | undefined) {
  const shown = safeMediaType(declared);
  const details: Record<string, string> = {};
  if (field !== undefined) details.field = field;
  if (detected !== undefined) details.detected = detected;
  if (shown !== undefined) details.declared = shown;
  return httpError(
    'WEIR_ERR_UPLOAD_TYPE',
    `An uploaded file ${what}${shown === undefined ? '' : ` (${shown})`}`,
    details,
    { headers: { connection: 'close' } },
  );
}

/** UTF-8 (a sequence cut at the end of the head aside) with no control character but \t \n \f \r. */
export function looksLikeText(head: Uint8Array): boolean {
  for (let i = 0; i < head.length; i++) {
    const c = head[i]!;
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0c && c !== 0x0d) || c === 0x7f) return false;
  }
  try {
    // stream: true leaves a multi-byte character cut by the end of the head undecoded, not refused.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return true;
  } catch {
    return false;
  }
}

// The tags the WHATWG MIME Sniffing standard looks for at the start of a resource (§7.1, "identifying a
// resource with an unknown MIME type"), plus elements that run script wherever they appear.
const HTML_START =
  /^(?:\ufeff)?[\t\n\f\r ]*<(?:!doctype html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--|\?xml)[\t\n\f\r >]/i;
const HTML_ANYWHERE = /<(?:script|html|iframe|svg|object|embed|!doctype)[\t\n\f\r />]/i;

/** True when a browser sniffing the first bytes could take them for HTML, or they carry script. */
export function looksLikeHtml(head: Uint8Array): boolean {
  const text = Buffer.from(head.buffer, head.byteOffset, head.byteLength).toString('latin1');
  return HTML_START.test(text) || HTML_ANYWHERE.test(text);
}
