/**
 * What of a part's names weir passes on. A file's client-side name is data, never a path: it is cleaned
 * for display and storage in a database, and weir never builds a path from it. A field name appears in
 * an error body only when it is short and plain.
 */

/** The longest cleaned file name, in UTF-16 code units (file systems allow 255 bytes). */
export const MAX_FILENAME_LENGTH = 200;

// C0 and C1 controls, DEL, the bidirectional overrides and isolates (which disguise an extension:
// "invoice\u202Efdp.exe"), zero-width characters, line and paragraph separators, and the BOM.
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it replaces.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
// Characters Windows refuses in file names, and path separators.
const RESERVED = /[<>:"/\\|?*]/g;

/**
 * The client's file name, made safe to show and to store as data: the last path segment only (a client
 * may send `C:\Users\x\a.png` or `../../etc/passwd`), Unicode NFC, control, bidirectional and reserved
 * characters replaced by `_`, leading dots and spaces and trailing dots and spaces removed, at most
 * {@link MAX_FILENAME_LENGTH} characters (the extension kept). `''` when nothing is left.
 */
export function cleanFilename(name: string | undefined): string {
  if (name === undefined || name === '') return '';
  const slash = Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\'));
  let clean = (slash === -1 ? name : name.slice(slash + 1)).normalize('NFC');
  clean = clean.replace(UNSAFE, '_').replace(RESERVED, '_');
  clean = clean.replace(/^[. ]+/, '').replace(/[. ]+$/, '');
  if (clean.length > MAX_FILENAME_LENGTH) {
    const dot = clean.lastIndexOf('.');
    const ext = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : '';
    clean = clean.slice(0, MAX_FILENAME_LENGTH - ext.length) + ext;
    // A cut through a surrogate pair would leave half a character.
    clean = clean.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '_');
  }
  return clean;
}

const PLAIN_NAME = /^[\w.[\]-]{1,64}$/;

/** The field name when it may be shown in an error body (1 to 64 of `A-Z a-z 0-9 _ . - [ ]`). */
export function shownField(name: string): string | undefined {
  return PLAIN_NAME.test(name) ? name : undefined;
}
