/**
 * The options of `session()`, checked once when the middleware is made.
 */
import { invalidOption, WeirError } from '../errors.ts';
import { redactUrl } from '../internal/url.ts';
import { underWorkers } from '../internal/workers.ts';
import { MemorySessionStore } from './stores/memory.ts';
import type { SessionStore } from './stores/store.ts';

/** The session cookie's attributes. */
export interface SessionCookieOptions {
  /**
   * `__Host-weir_session` binds the cookie to this host over HTTPS: a sibling subdomain cannot set one
   * that shadows it (cookie tossing). A `__Host-` name needs `secure` true or `'auto'` (the cookie only
   * sticks over HTTPS), path `/` and no domain; a `__Secure-` name needs `secure`.
   * @default 'weir_session'
   */
  name?: string;
  /** @default '/' */
  path?: string;
  /** Omit to bind the cookie to the exact host (the safe choice). */
  domain?: string;
  /** @default 'lax' */
  sameSite?: 'lax' | 'strict' | 'none';
  /**
   * `'auto'`: `Secure` when the request came over HTTPS (`ctx.protocol`, which believes
   * `X-Forwarded-Proto` only from a proxy the app's `trustProxy` names). @default 'auto'
   */
  secure?: boolean | 'auto';
  /** Hide the cookie from scripts. @default true */
  httpOnly?: boolean;
  /** CHIPS partitioned cookie. @default false */
  partitioned?: boolean;
  /**
   * `true`: the cookie has a `Max-Age` (the session's idle lifetime, renewed with it), so it survives a
   * browser restart. `false`: a browser-session cookie. @default true
   */
  persistent?: boolean;
}

/** Options of {@link session}. */
export interface SessionOptions {
  /**
   * Where sessions live: a store from `openSessionStore()` (`memory:`, `redis://…`, the SQL database).
   * Use Redis or the database when more than one process serves the app. A function that returns the
   * store is for one opened in `app.onStart()`: it is called, and the store checked, on the first request.
   * @default a private in-process store
   */
  store?: SessionStore | (() => SessionStore);
  /** Idle lifetime: a session not used for this long is gone. @default 86_400_000 (a day) */
  ttlMs?: number;
  /**
   * Absolute lifetime, from login (or creation): however active, the session ends after this and the
   * user logs in again. @default 604_800_000 (a week)
   */
  absoluteTtlMs?: number;
  /** `true`: each request moves the idle expiry forward (see `touchAfterMs`). @default true */
  rolling?: boolean;
  /**
   * With `rolling`, an unchanged session is re-stored (and its cookie re-sent) only once its expiry
   * would move by at least this much: one store write a minute per active session, not one per request.
   * @default 60_000, or half of `ttlMs` if that is shorter
   */
  touchAfterMs?: number;
  /** The largest session, as JSON, in bytes; saving a larger one fails with `WEIR_ERR_SESSION_DATA`. @default 65_536 */
  maxDataBytes?: number;
  /** The cookie's name and attributes. */
  cookie?: SessionCookieOptions;
  /**
   * An in-process store (`memory:`) under several worker processes keeps each process's sessions to
   * itself, so a user would be logged out whenever another process answers: creation then throws
   * `WEIR_ERR_INVALID_OPTION` unless this is `true`. @default false
   */
  allowMemoryWithWorkers?: boolean;
}

/** The checked options. */
export interface SessionSettings {
  readonly store: () => SessionStore;
  readonly ttlMs: number;
  readonly absoluteTtlMs: number;
  readonly rolling: boolean;
  readonly touchAfterMs: number;
  readonly maxDataBytes: number;
  readonly cookie: Required<Omit<SessionCookieOptions, 'domain'>> & { readonly domain: string | undefined };
}

const COOKIE_NAME = /^[!#$%&'*+.^`|~\w-]+$/;

function duration(
  name: string,
  value: number | undefined,
  fallback: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const ms = value ?? fallback;
  if (!Number.isSafeInteger(ms) || ms < 1000 || ms > max) {
    throw invalidOption(`session() ${name}`, `an integer number of ms from 1000 to ${max}`, value);
  }
  return ms;
}

function cookieSettings(cookie: SessionCookieOptions | undefined): SessionSettings['cookie'] {
  const name = cookie?.name ?? 'weir_session';
  if (typeof name !== 'string' || !COOKIE_NAME.test(name)) {
    throw invalidOption('session() cookie.name', "a cookie name (letters, digits and !#$%&'*+.^`|~_-)", name);
  }
  const sameSite = cookie?.sameSite ?? 'lax';
  if (!['lax', 'strict', 'none'].includes(sameSite)) {
    throw invalidOption('session() cookie.sameSite', "'lax', 'strict' or 'none'", sameSite);
  }
  const secure = cookie?.secure ?? 'auto';
  if (secure !== 'auto' && typeof secure !== 'boolean') {
    throw invalidOption('session() cookie.secure', "true, false or 'auto'", secure);
  }
  if (sameSite === 'none' && secure === false) {
    // Browsers drop a SameSite=None cookie without Secure: the session would silently never stick.
    throw invalidOption('session() cookie.secure', "true or 'auto' with sameSite: 'none'", secure);
  }
  const path = cookie?.path ?? '/';
  const domain = cookie?.domain;
  // Browsers drop a __Secure- cookie without Secure, and a __Host- one also with a Domain or a Path
  // other than / (the prefixes are matched without regard to case).
  const prefix = /^__(host|secure)-/i.exec(name)?.[1]?.toLowerCase();
  if (prefix !== undefined && secure === false) {
    throw invalidOption('session() cookie.secure', `true or 'auto' with a __${prefix}- cookie name`, secure);
  }
  if (prefix === 'host' && (domain !== undefined || path !== '/')) {
    throw invalidOption('session() cookie', "path '/' and no domain with a __Host- cookie name", cookie);
  }
  return {
    name,
    path,
    domain,
    sameSite,
    secure,
    httpOnly: cookie?.httpOnly ?? true,
    partitioned: cookie?.partitioned ?? false,
    persistent: cookie?.persistent ?? true,
  };
}

function storeOf(given: unknown, allowMemory: boolean): () => SessionStore {
  if (given === undefined) {
    const store = new MemorySessionStore();
    checkStore(store, allowMemory);
    return () => store;
  }
  if (typeof given === 'function') {
    let checked: SessionStore | undefined;
    return () => {
      if (checked === undefined) {
        const store = (given as () => SessionStore)();
        checkStore(store, allowMemory);
        checked = store;
      }
      return checked;
    };
  }
  checkStore(given, allowMemory);
  return () => given as SessionStore;
}

function checkStore(given: unknown, allowMemory: boolean): void {
  const s = given as Partial<SessionStore> | null;
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.get !== 'function' ||
    typeof s.set !== 'function' ||
    typeof s.touch !== 'function' ||
    typeof s.delete !== 'function'
  ) {
    if (typeof given === 'string') {
      // A URL: the store is opened by openSessionStore(url); its password is not repeated.
      throw invalidOption(
        'session() store',
        'a store from openSessionStore(url), not a URL',
        redactUrl(given),
      );
    }
    throw invalidOption('session() store', 'a store from openSessionStore()', given);
  }
  checkWorkers(s as SessionStore, allowMemory);
}

function checkWorkers(store: SessionStore, allowMemory: boolean): void {
  if (store.backend === 'memory' && !allowMemory && underWorkers()) {
    throw new WeirError(
      'WEIR_ERR_INVALID_OPTION',
      'session() store is memory:, which each worker process keeps to itself: a user would be logged out ' +
        'whenever another worker answers. Use openSessionStore("redis://…") or the SQL database, or pass ' +
        'allowMemoryWithWorkers: true to accept per-process sessions',
    );
  }
}

/** Checks `options` and fills in the defaults. */
export function sessionSettings(options: SessionOptions): SessionSettings {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption('session() options', 'an object', options);
  }
  const ttlMs = duration('ttlMs', options.ttlMs, 86_400_000);
  const absoluteTtlMs = duration('absoluteTtlMs', options.absoluteTtlMs, 604_800_000);
  if (absoluteTtlMs < ttlMs) {
    throw invalidOption('session() absoluteTtlMs', `at least ttlMs (${ttlMs})`, absoluteTtlMs);
  }
  const touchAfterMs = options.touchAfterMs ?? Math.min(60_000, Math.floor(ttlMs / 2));
  if (!Number.isSafeInteger(touchAfterMs) || touchAfterMs < 0 || touchAfterMs > ttlMs) {
    throw invalidOption(
      'session() touchAfterMs',
      `an integer number of ms from 0 to ttlMs (${ttlMs})`,
      touchAfterMs,
    );
  }
  const maxDataBytes = options.maxDataBytes ?? 65_536;
  if (!Number.isSafeInteger(maxDataBytes) || maxDataBytes < 64 || maxDataBytes > 16 * 1024 * 1024) {
    throw invalidOption('session() maxDataBytes', 'an integer from 64 to 16 MiB', maxDataBytes);
  }
  const rolling = options.rolling ?? true;
  if (typeof rolling !== 'boolean') throw invalidOption('session() rolling', 'a boolean', rolling);
  return {
    store: storeOf(options.store, options.allowMemoryWithWorkers === true),
    ttlMs,
    absoluteTtlMs,
    rolling,
    touchAfterMs,
    maxDataBytes,
    cookie: cookieSettings(options.cookie),
  };
}
