/**
 * Server-side sessions. The cookie carries only a random 256-bit id; the data lives in a store (memory,
 * Redis, SQL) under the SHA-256 of that id. A request without the cookie costs no store I/O, and a session
 * is written only when it holds something. `regenerate()` (and `logIn()`, which calls it) gives the session
 * a new id and deletes the old record, so an id planted before login is worth nothing after it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { httpError, WeirError } from '../errors.ts';
import type { Middleware } from '../http/compose.ts';
import { type AnyContext, Context } from '../http/context.ts';
import type { CookieOptions } from '../http/cookies.ts';
import { describeMiddleware } from '../internal/describe.ts';
import { type SessionOptions, type SessionSettings, sessionSettings } from './session-options.ts';
import type { SessionStore } from './stores/store.ts';

/** A user as a session or a token names them: what `requireAuth()` puts in `ctx.state.user`. */
export interface AuthUser {
  readonly id: string | number;
  /** Checked by `requireAuth({ roles })`. */
  readonly roles?: readonly string[];
  /** Checked by `requireAuth({ scopes })`. */
  readonly scopes?: readonly string[];
}

/**
 * What a session may hold: any JSON value under any key, and `user` once logged in. Declare your own keys
 * to type them: `declare module 'weir/security' { interface SessionData { cart?: string[] } }`.
 */
export interface SessionData {
  user?: AuthUser;
  [key: string]: unknown;
}

const ID_BYTES = 32;
/** A session id as weir writes it: 32 random bytes in base64url. Anything else is not looked up. */
const ID_SHAPE = /^[\w-]{43}$/;
const kSession = Symbol('weir.session');

function newId(): string {
  return randomBytes(ID_BYTES).toString('base64url');
}

/** The store key of a session id: its SHA-256, so the store never holds a usable id. */
function keyOf(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}

function storeFailed(operation: string, err: unknown): never {
  // The store's error is logged by the error handler (it is the cause); the client learns only that
  // sessions are unavailable for now.
  throw httpError(
    'WEIR_ERR_SESSION_STORE',
    'Sessions are unavailable right now; try again shortly',
    { operation },
    { cause: err, headers: { 'retry-after': '1' } },
  );
}

/** One request's view of its session: `ctx.session`. */
export class Session {
  readonly #store: SessionStore;
  #id: string | undefined;
  #key: string | undefined;
  #data: SessionData;
  #createdAt: number;
  #expiresAt = 0;
  #changed = false;
  #destroyed = false;
  /** Whether the request came with a cookie that named no live session (it is cleared on the way out). */
  #staleCookie = false;

  /** @internal */
  constructor(store: SessionStore, id?: string, key?: string, data?: SessionData, createdAt?: number) {
    this.#store = store;
    this.#id = id;
    this.#key = key;
    this.#data = data ?? emptyData();
    this.#createdAt = createdAt ?? Date.now();
  }

  /**
   * Whether the session is not stored: it did not come with the request (or was regenerated or destroyed
   * by it) and has not been saved since.
   */
  get isNew(): boolean {
    return this.#key === undefined;
  }

  /** The logged-in user, or `undefined`. */
  get user(): AuthUser | undefined {
    return this.#data.user;
  }

  /** The value under `key`. */
  get<K extends keyof SessionData & string>(key: K): SessionData[K] | undefined {
    return this.#data[key];
  }

  /** Sets `key` (a JSON value); the session is saved when the response goes out. */
  set<K extends keyof SessionData & string>(key: K, value: SessionData[K]): void {
    this.#data[key] = value;
    this.#changed = true;
    // After destroy(), setting a value starts a new session (with a new id).
    this.#destroyed = false;
  }

  /** Removes `key`. */
  unset(key: keyof SessionData & string): void {
    if (key in this.#data) {
      delete this.#data[key];
      this.#changed = true;
    }
  }

  /**
   * Moves the session to a new id and deletes the old record; the data stays. Call it whenever the
   * user's privileges change (login, sudo mode, role change): an id planted by an attacker before that
   * point no longer names the session.
   */
  async regenerate(): Promise<void> {
    await this.#forget();
    this.#id = undefined;
    this.#key = undefined;
    this.#createdAt = Date.now();
    this.#changed = true;
    this.#destroyed = false;
  }

  /** Logs `user` in: a new session id (see {@link regenerate}), with `user` stored in it. */
  async logIn<U extends AuthUser>(user: U): Promise<void> {
    await this.regenerate();
    this.#data.user = user;
  }

  /** Ends the session: its record is deleted now, and the cookie cleared on the way out. */
  async destroy(): Promise<void> {
    await this.#forget();
    this.#data = emptyData();
    this.#destroyed = true;
    this.#changed = false;
  }

  /** Logs the user out: the same as {@link destroy}. */
  logOut(): Promise<void> {
    return this.destroy();
  }

  async #forget(): Promise<void> {
    const key = this.#key;
    if (key === undefined) return;
    try {
      await this.#store.delete(key);
    } catch (err) {
      storeFailed('delete', err);
    }
    this.#key = undefined;
    this.#staleCookie = true;
  }

  /** @internal Saves what changed and sets or clears the cookie. */
  async commit(ctx: Context, settings: SessionSettings): Promise<void> {
    const now = Date.now();
    const { cookie } = settings;
    const stored = this.#key !== undefined;
    const save = this.#changed && !this.#destroyed && (stored || !isEmpty(this.#data));
    const expiresAt = Math.min(now + settings.ttlMs, this.#createdAt + settings.absoluteTtlMs);
    const touch = !save && stored && settings.rolling && expiresAt - this.#expiresAt >= settings.touchAfterMs;
    if (!save && !touch) {
      // A cookie that names nothing (tampered, expired, logged out) is cleared rather than sent again,
      // with the attributes it was set with: a browser ignores a Secure one over plain HTTP, and a clear
      // without Partitioned or Domain names another cookie.
      if (this.#staleCookie && !stored) {
        ctx.cookie(cookie.name, '', { ...attributes(ctx, cookie), maxAgeSeconds: 0, expires: new Date(0) });
      }
      return;
    }
    if (save) {
      const data = serialise(this.#data, settings.maxDataBytes);
      const record = { data, createdAt: this.#createdAt, expiresAt };
      if (this.#key === undefined) {
        this.#id = newId();
        this.#key = keyOf(this.#id);
        try {
          await this.#store.set(this.#key, record);
        } catch (err) {
          storeFailed('save', err);
        }
      } else {
        // A session this request loaded: saved only if it is still there. A logout (or regenerate) that
        // deleted it while this request ran wins; this request's cookie then names nothing, and is cleared.
        let replaced: boolean;
        try {
          replaced = await this.#store.replace(this.#key, record);
        } catch (err) {
          storeFailed('save', err);
        }
        if (!replaced) {
          ctx.cookie(cookie.name, '', { ...attributes(ctx, cookie), maxAgeSeconds: 0, expires: new Date(0) });
          return;
        }
      }
    } else {
      try {
        await this.#store.touch(this.#key as string, expiresAt);
      } catch (err) {
        storeFailed('touch', err);
      }
    }
    this.#expiresAt = expiresAt;
    ctx.cookie(cookie.name, this.#id as string, {
      ...attributes(ctx, cookie),
      maxAgeSeconds: cookie.persistent ? Math.max(1, Math.floor((expiresAt - now) / 1000)) : undefined,
    });
  }

  /** @internal The record's expiry as loaded. */
  loadedExpiry(expiresAt: number): this {
    this.#expiresAt = expiresAt;
    return this;
  }

  /** @internal The request named a session that is gone. */
  markStale(): this {
    this.#staleCookie = true;
    return this;
  }
}

/**
 * Session data lives in objects without a prototype: `set('__proto__', v)` then stores a key like any
 * other instead of replacing the prototype (which would make `v.user` the session's user), and
 * `get('constructor')` is `undefined`, not `Object`.
 */
function emptyData(): SessionData {
  return Object.create(null) as SessionData;
}

/** The session cookie's attributes for this request (`secure: 'auto'` decided by its protocol). */
function attributes(ctx: Context, cookie: SessionSettings['cookie']): CookieOptions {
  return {
    path: cookie.path,
    domain: cookie.domain,
    sameSite: cookie.sameSite,
    httpOnly: cookie.httpOnly,
    partitioned: cookie.partitioned,
    secure: cookie.secure === 'auto' ? ctx.protocol === 'https' : cookie.secure,
  };
}

function isEmpty(data: SessionData): boolean {
  for (const _ in data) return false;
  return true;
}

function serialise(data: SessionData, maxBytes: number): string {
  let text: string;
  try {
    text = JSON.stringify(data);
  } catch (err) {
    throw new WeirError(
      'WEIR_ERR_SESSION_DATA',
      'Session data must be JSON (a value could not be serialised)',
      {
        cause: err,
      },
    );
  }
  if (text.length > maxBytes || Buffer.byteLength(text) > maxBytes) {
    throw new WeirError(
      'WEIR_ERR_SESSION_DATA',
      `Session data is ${Buffer.byteLength(text)} bytes, over session() maxDataBytes (${maxBytes})`,
    );
  }
  return text;
}

function parseData(text: string): SessionData | undefined {
  try {
    const data: unknown = JSON.parse(text);
    // JSON.parse makes "__proto__" an own key; assigning it to a prototype-less object keeps it one.
    return typeof data === 'object' && data !== null && !Array.isArray(data)
      ? Object.assign(emptyData(), data)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The session named by the request's cookie, or a new empty one. */
async function load(ctx: Context, store: SessionStore, settings: SessionSettings): Promise<Session> {
  const id = ctx.cookies[settings.cookie.name];
  if (id === undefined) return new Session(store);
  if (!ID_SHAPE.test(id)) return new Session(store).markStale();
  const key = keyOf(id);
  let record: Awaited<ReturnType<SessionStore['get']>>;
  try {
    record = await store.get(key);
  } catch (err) {
    storeFailed('load', err);
  }
  const now = Date.now();
  if (record === undefined || record.expiresAt <= now || record.createdAt + settings.absoluteTtlMs <= now) {
    return new Session(store).markStale();
  }
  const data = parseData(record.data);
  if (data === undefined) return new Session(store).markStale();
  return new Session(store, id, key, data, record.createdAt).loadedExpiry(record.expiresAt);
}

/**
 * Server-side sessions as middleware: `ctx.session` on every route it wraps.
 * @example
 * const store = await openSessionStore(process.env.SESSION_URL); // memory: by default
 * app.onStop(() => store.close());
 * app.use(session({ store }));
 * app.post('/login', async (ctx) => { …; await ctx.session.logIn({ id: user.id }); return { ok: true }; });
 */
export function session(options: SessionOptions = {}): Middleware {
  const settings = sessionSettings(options);
  return describeMiddleware(
    async function session(ctx: Context, next: () => Promise<void>) {
      const current = await load(ctx, settings.store(), settings);
      (ctx.state as Record<symbol, Session>)[kSession] = current;
      await next();
      await current.commit(ctx, settings);
    },
    // The cookie requireAuth() accepts, under the name the document gives it.
    { schemes: { sessionCookie: { type: 'apiKey', in: 'cookie', name: settings.cookie.name } } },
  );
}

/** The request's session when `session()` wraps the route, else `undefined`. */
export function sessionOf(ctx: AnyContext): Session | undefined {
  return (ctx.state as Record<symbol, Session | undefined>)[kSession];
}

declare module '../http/context.ts' {
  interface Context<P extends string = string, S extends object = Record<never, never>, I = unknown> {
    /**
     * The request's session (`weir/security`'s `session()` middleware must wrap the route).
     * @throws WeirError `WEIR_ERR_NO_SESSION` on a route that `session()` does not wrap.
     */
    readonly session: Session;
  }
}

Object.defineProperty(Context.prototype, 'session', {
  configurable: true,
  get(this: Context): Session {
    const found = (this.state as Record<symbol, Session | undefined>)[kSession];
    if (found === undefined) {
      throw new WeirError(
        'WEIR_ERR_NO_SESSION',
        'ctx.session was read on a route that the session() middleware does not wrap: add app.use(session(…)) before the route',
      );
    }
    return found;
  },
});
