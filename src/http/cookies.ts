import { createHmac, timingSafeEqual } from 'node:crypto';
import { parse, serialize } from 'cookie';
import { invalidOption, WeirError } from '../errors.ts';

/**
 * Options for `ctx.cookie()`. The defaults are the safe ones: `HttpOnly`, `SameSite=Lax`, `Path=/`.
 */
export interface CookieOptions {
  /** Lifetime in seconds (`Max-Age`); `0` deletes the cookie. Omit for a session cookie. */
  maxAgeSeconds?: number;
  /** Absolute expiry (`Expires`); prefer `maxAgeSeconds`. */
  expires?: Date;
  /** @default '/' */
  path?: string;
  /** Omit to bind the cookie to the exact host. */
  domain?: string;
  /** Hide the cookie from scripts. @default true */
  httpOnly?: boolean;
  /** Send only over HTTPS. Turn on behind TLS. @default false */
  secure?: boolean;
  /** @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none';
  /** CHIPS partitioned cookie. @default false */
  partitioned?: boolean;
  /**
   * Sign the value with the app's first `cookieSecrets` entry (HMAC-SHA256); read it back with
   * `ctx.signedCookie(name)`. @default false
   */
  signed?: boolean;
}

/** Parses a `Cookie` header into a null-prototype object; the first occurrence of a name wins. */
export function parseCookies(header: string | undefined): Readonly<Record<string, string | undefined>> {
  return header === undefined || header === '' ? Object.create(null) : parse(header);
}

/** Matches an unpaired surrogate only: with the `u` flag a pair is one code point, outside the class. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

function signature(name: string, value: string, secret: string): string {
  // The name is signed too, so a signed value cannot be replayed under another cookie's name.
  return createHmac('sha256', secret).update(`${name}=${value}`).digest('base64url');
}

/** `value.signature`, signed with `secret`. */
export function signCookie(name: string, value: string, secret: string): string {
  return `${value}.${signature(name, value, secret)}`;
}

/**
 * The value of a signed cookie if any of `secrets` produced its signature (so secrets can be rotated by
 * putting the new one first), else `undefined`. The comparison takes constant time.
 */
export function unsignCookie(name: string, signed: string, secrets: readonly string[]): string | undefined {
  const dot = signed.lastIndexOf('.');
  // An empty value signs to ".signature", so a dot at 0 is a value, not a missing one. A lone surrogate
  // hashes as U+FFFD, so two strings would share a signature: no cookie read off the wire has one.
  if (dot === -1 || LONE_SURROGATE.test(signed)) return undefined;
  const value = signed.slice(0, dot);
  const given = Buffer.from(signed.slice(dot + 1));
  for (const secret of secrets) {
    const expected = Buffer.from(signature(name, value, secret));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return value;
  }
  return undefined;
}

/**
 * Serialises one `Set-Cookie` value with weir's defaults; the value is percent-encoded, so the line is
 * always printable ASCII.
 * @throws WeirError `WEIR_ERR_INVALID_OPTION` for a name that is not a cookie name, an invalid `path`,
 * `domain`, `expires`, `sameSite` or `maxAgeSeconds`, a value with a lone surrogate, or `signed` without
 * `cookieSecrets`.
 */
export function serializeCookie(
  name: string,
  value: string,
  options: CookieOptions | undefined,
  secrets: readonly string[],
): string {
  let stored = value;
  if (options?.signed === true) {
    const secret = secrets[0];
    if (secret === undefined) {
      throw invalidOption(
        'cookieSecrets (App option, needed for signed cookies)',
        'a non-empty list of secrets',
        secrets,
      );
    }
    stored = signCookie(name, value, secret);
  }
  if (options?.maxAgeSeconds !== undefined && !Number.isInteger(options.maxAgeSeconds)) {
    throw invalidOption('cookie maxAgeSeconds', 'an integer', options.maxAgeSeconds);
  }
  try {
    return serialize(name, stored, {
      maxAge: options?.maxAgeSeconds,
      expires: options?.expires,
      path: options?.path ?? '/',
      domain: options?.domain,
      httpOnly: options?.httpOnly ?? true,
      secure: options?.secure ?? false,
      sameSite: options?.sameSite ?? 'lax',
      partitioned: options?.partitioned,
    });
  } catch (err) {
    throw refused(name, err);
  }
}

/**
 * The `cookie` package refuses a bad name, path, domain, expiry or SameSite with a TypeError naming it,
 * and a value it cannot percent-encode (a lone surrogate) with a URIError; both become weir's error.
 * The value is never quoted: it may be a credential.
 */
function refused(name: string, err: unknown): WeirError {
  const why =
    err instanceof URIError
      ? 'its value has a lone surrogate (not well-formed UTF-16), which cannot be percent-encoded'
      : (err as Error).message;
  return new WeirError('WEIR_ERR_INVALID_OPTION', `Cookie ${JSON.stringify(name)} cannot be set: ${why}`, {
    cause: err,
  });
}

/** Validates and normalises the app's `cookieSecrets` option. */
export function normalizeSecrets(secrets: string | readonly string[] | undefined): readonly string[] {
  if (secrets === undefined) return [];
  const list = typeof secrets === 'string' ? [secrets] : secrets;
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string' || s.length < 16)) {
    throw invalidOption(
      'cookieSecrets',
      'a string or a list of strings, each at least 16 characters long',
      secrets,
    );
  }
  return Object.freeze([...list]);
}
