/**
 * JSON Web Tokens on `jose` (loaded on first use): verification with an explicit allow-list of algorithms,
 * and signing, for services that issue their own tokens. `none` is never accepted, and one allow-list
 * cannot mix HMAC with public-key algorithms, so a public key can never be used as an HMAC secret.
 */
import { createPrivateKey, createPublicKey, createSecretKey, KeyObject, webcrypto } from 'node:crypto';
import type { JWTPayload } from 'jose';
import { LRUCache } from 'lru-cache';
import { httpError, invalidOption } from '../errors.ts';
import type { AuthUser } from './session.ts';

/** The algorithms weir verifies and signs with. */
export type JwtAlgorithm =
  | 'HS256'
  | 'HS384'
  | 'HS512'
  | 'RS256'
  | 'RS384'
  | 'RS512'
  | 'PS256'
  | 'PS384'
  | 'PS512'
  | 'ES256'
  | 'ES384'
  | 'ES512'
  | 'EdDSA'
  | 'Ed25519';

/** A token's claims. */
export type JwtClaims = JWTPayload & Record<string, unknown>;

/**
 * A key: for HS* a secret of at least 32 bytes (a string, bytes or a secret `KeyObject`); for the others a
 * public key (PEM text or a `KeyObject`; a private key is reduced to its public half), or the URL of a
 * JWKS endpoint (keys fetched and cached by jose, chosen by the token's `kid`).
 */
export type JwtKey = string | Uint8Array | KeyObject | URL;

/** How bearer JWTs are verified. */
export interface JwtOptions<U extends AuthUser = AuthUser> {
  /** The key, or a function that returns it, for a key loaded at start (read and checked on the first token). */
  key: JwtKey | (() => JwtKey);
  /** The algorithms accepted; required, all HMAC or all public-key. */
  algorithms: readonly JwtAlgorithm[];
  /** Required `iss`. */
  issuer?: string | readonly string[];
  /** Required `aud` (one of). */
  audience?: string | readonly string[];
  /** Slack on `exp` and `nbf` for clocks that disagree. @default 5000 */
  clockToleranceMs?: number;
  /** Refuse tokens whose `iat` is older than this, whatever their `exp`. @default no limit */
  maxTokenAgeMs?: number;
  /**
   * The user a verified token names; `undefined` refuses the token. @default `{ id: sub, scopes: scope
   * split on spaces (or scp), roles }`, and no `sub` refuses it
   */
  user?: (claims: JwtClaims) => U | undefined;
  /**
   * Tokens kept once verified, so that a client's next requests with the same token cost a lookup, not a
   * signature check: the signature, algorithm, issuer and audience are checked once, the clock (`exp`,
   * `nbf`, `maxTokenAgeMs`) on every use. A token verified before a key rotation stays good until its
   * `exp`, as it would anyway. `0` verifies every time. @default 10_000
   */
  cacheSize?: number;
}

const HMAC = new Set(['HS256', 'HS384', 'HS512']);
const ALL = new Set<string>([
  ...HMAC,
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
]);
const MIN_SECRET_BYTES = 32;

type Jose = typeof import('jose');
let jose: Promise<Jose> | undefined;
function loadJose(): Promise<Jose> {
  jose ??= import('jose');
  return jose;
}

/** The verification key, or a JWKS resolver, made once. */
type Resolved = KeyObject | ((...args: never[]) => unknown);

function checkAlgorithms(where: string, algorithms: unknown): readonly JwtAlgorithm[] {
  if (!Array.isArray(algorithms) || algorithms.length === 0 || algorithms.some((a) => !ALL.has(a))) {
    throw invalidOption(`${where} algorithms`, `a non-empty list among ${[...ALL].join(', ')}`, algorithms);
  }
  const hmac = algorithms.filter((a) => HMAC.has(a)).length;
  if (hmac !== 0 && hmac !== algorithms.length) {
    throw invalidOption(`${where} algorithms`, 'all HMAC (HS*) or all public-key, not both', algorithms);
  }
  return Object.freeze([...algorithms]) as readonly JwtAlgorithm[];
}

function secretKey(where: string, key: string | Uint8Array | KeyObject): KeyObject {
  const secret =
    key instanceof KeyObject
      ? key
      : createSecretKey(typeof key === 'string' ? Buffer.from(key) : Buffer.from(key));
  if (secret.type !== 'secret' || (secret.symmetricKeySize ?? 0) < MIN_SECRET_BYTES) {
    throw invalidOption(
      `${where} key`,
      `a secret of at least ${MIN_SECRET_BYTES} bytes for HS* algorithms`,
      '(hidden)',
    );
  }
  return secret;
}

function publicKey(where: string, key: JwtKey): Resolved | URL {
  if (key instanceof URL) {
    if (key.protocol !== 'https:' && key.protocol !== 'http:') {
      throw invalidOption(`${where} key`, 'an http(s) JWKS URL', key.protocol);
    }
    return key;
  }
  try {
    if (key instanceof KeyObject) return key.type === 'private' ? createPublicKey(key) : key;
    if (typeof key === 'string' && key.includes('-----BEGIN')) return createPublicKey(key);
  } catch {
    // Fall through to the one message below; the key's text is never repeated.
  }
  if (key instanceof KeyObject && key.type === 'public') return key;
  throw invalidOption(
    `${where} key`,
    'a public key (PEM or KeyObject) or a JWKS URL for public-key algorithms',
    '(hidden)',
  );
}

/** A verifier made once per `requireAuth()`: checks the options now, loads jose on the first token. */
export function jwtVerifier<U extends AuthUser>(
  options: JwtOptions<U>,
): (token: string) => Promise<{ user: U | undefined; expired: boolean }> {
  const where = 'requireAuth() jwt';
  if (typeof options !== 'object' || options === null) {
    // A string here is most likely the secret itself: never repeated.
    const received = typeof options === 'string' ? '(a string, hidden)' : options;
    throw invalidOption(where, 'an object { key, algorithms }', received);
  }
  const algorithms = checkAlgorithms(where, options.algorithms);
  const hmac = HMAC.has(algorithms[0] as string);
  const keyOf = (key: JwtKey): Resolved | URL =>
    hmac ? secretKey(where, key as string | Uint8Array | KeyObject) : publicKey(where, key);
  let given: Resolved | URL | undefined = typeof options.key === 'function' ? undefined : keyOf(options.key);
  const later = typeof options.key === 'function' ? (options.key as () => JwtKey) : undefined;
  const tolerance = options.clockToleranceMs ?? 5000;
  if (!Number.isSafeInteger(tolerance) || tolerance < 0) {
    throw invalidOption(`${where} clockToleranceMs`, 'a non-negative integer', tolerance);
  }
  const maxAge = options.maxTokenAgeMs;
  if (maxAge !== undefined && (!Number.isSafeInteger(maxAge) || maxAge < 1000)) {
    throw invalidOption(`${where} maxTokenAgeMs`, 'an integer number of ms ≥ 1000', maxAge);
  }
  const toUser = options.user ?? (defaultUser as (claims: JwtClaims) => U | undefined);
  const cacheSize = options.cacheSize ?? 10_000;
  if (!Number.isSafeInteger(cacheSize) || cacheSize < 0) {
    throw invalidOption(`${where} cacheSize`, 'a non-negative integer', cacheSize);
  }
  const verified = cacheSize === 0 ? undefined : verifiedTokens(cacheSize);
  const verifyOptions = {
    algorithms: [...algorithms],
    issuer: options.issuer as string | string[] | undefined,
    audience: options.audience as string | string[] | undefined,
    clockTolerance: Math.round(tolerance / 1000),
    maxTokenAge: maxAge === undefined ? undefined : Math.floor(maxAge / 1000),
    requiredClaims: ['exp'],
  };
  let key: Resolved | undefined;
  return async (token) => {
    const hit = verified?.get(token);
    if (hit !== undefined) {
      // Signature, algorithm, issuer and audience were checked when it was stored; the clock is checked now.
      const now = Date.now();
      const fresh =
        now < hit.expiresAt + tolerance &&
        now >= hit.notBefore - tolerance &&
        (maxAge === undefined || now <= hit.issuedAt + maxAge + tolerance);
      if (fresh) return { user: hit.user as U, expired: false };
      verified?.delete(token);
    }
    const j = await loadJose();
    if (key === undefined) {
      given ??= keyOf((later as () => JwtKey)());
      key =
        given instanceof URL ? (j.createRemoteJWKSet(given) as Resolved) : importedOnce(given as KeyObject);
    }
    try {
      const { payload } = await j.jwtVerify(token, key as KeyObject, verifyOptions);
      const user = toUser(payload as JwtClaims);
      if (verified !== undefined && user !== undefined && user !== null && typeof payload.exp === 'number') {
        verified.set(token, {
          // Shared by every request that brings this token: frozen, so one handler cannot change the next's.
          user: freezeUser(user),
          expiresAt: payload.exp * 1000,
          notBefore: typeof payload.nbf === 'number' ? payload.nbf * 1000 : 0,
          issuedAt: typeof payload.iat === 'number' ? payload.iat * 1000 : 0,
        });
      }
      return { user, expired: false };
    } catch (err) {
      if (given instanceof URL && jwksFailed(err, j)) {
        // The key set could not be read: the token was not checked, so it is not called invalid (a client
        // would throw it away); as with a session store that is down, the answer is 503.
        throw httpError(
          'WEIR_ERR_JWKS_UNAVAILABLE',
          'Bearer tokens cannot be checked right now; try again shortly',
          undefined,
          { cause: err, headers: { 'retry-after': '1' } },
        );
      }
      if (err instanceof j.errors.JOSEError) {
        return { user: undefined, expired: err.code === 'ERR_JWT_EXPIRED' };
      }
      throw err;
    }
  };
}

/** WebCrypto import parameters for each algorithm. */
const IMPORT: Record<string, { format: 'raw' | 'spki'; algorithm: Record<string, string> }> = {
  HS256: { format: 'raw', algorithm: { name: 'HMAC', hash: 'SHA-256' } },
  HS384: { format: 'raw', algorithm: { name: 'HMAC', hash: 'SHA-384' } },
  HS512: { format: 'raw', algorithm: { name: 'HMAC', hash: 'SHA-512' } },
  RS256: { format: 'spki', algorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } },
  RS384: { format: 'spki', algorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' } },
  RS512: { format: 'spki', algorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' } },
  PS256: { format: 'spki', algorithm: { name: 'RSA-PSS', hash: 'SHA-256' } },
  PS384: { format: 'spki', algorithm: { name: 'RSA-PSS', hash: 'SHA-384' } },
  PS512: { format: 'spki', algorithm: { name: 'RSA-PSS', hash: 'SHA-512' } },
  ES256: { format: 'spki', algorithm: { name: 'ECDSA', namedCurve: 'P-256' } },
  ES384: { format: 'spki', algorithm: { name: 'ECDSA', namedCurve: 'P-384' } },
  ES512: { format: 'spki', algorithm: { name: 'ECDSA', namedCurve: 'P-521' } },
  EdDSA: { format: 'spki', algorithm: { name: 'Ed25519' } },
  Ed25519: { format: 'spki', algorithm: { name: 'Ed25519' } },
};

/**
 * The key as jose's key resolver: imported into WebCrypto once per algorithm. Given a `KeyObject`, jose
 * imports it again on every verification, which was most of a token's cost (about 25 µs of ~55).
 * A key WebCrypto cannot import for an algorithm is handed over as it is, and jose decides.
 */
function importedOnce(key: KeyObject): Resolved {
  const imported = new Map<string, Promise<webcrypto.CryptoKey | KeyObject>>();
  return (header: { alg?: string }) => {
    const alg = header.alg ?? '';
    const how = IMPORT[alg];
    if (how === undefined) return Promise.resolve(key);
    let found = imported.get(alg);
    if (found === undefined) {
      const bytes = how.format === 'raw' ? key.export() : key.export({ type: 'spki', format: 'der' });
      found = webcrypto.subtle
        .importKey(how.format, bytes, how.algorithm as unknown as webcrypto.AlgorithmIdentifier, false, [
          'verify',
        ])
        .catch(() => key);
      imported.set(alg, found);
    }
    return found;
  };
}

function freezeUser<T>(user: T): T {
  if (typeof user === 'object' && user !== null) {
    for (const value of Object.values(user)) if (Array.isArray(value)) Object.freeze(value);
    Object.freeze(user);
  }
  return user;
}

interface Verified {
  readonly user: unknown;
  readonly expiresAt: number;
  readonly notBefore: number;
  readonly issuedAt: number;
}

/**
 * Tokens already verified, by their text: verifying an HS256 token with jose costs ~50 µs of WebCrypto per
 * request, a lookup here well under one. Bounded in count and in the tokens' total length (8 MiB).
 */
function verifiedTokens(max: number): LRUCache<string, Verified> {
  return new LRUCache<string, Verified>({
    max,
    maxSize: 8 * 2 ** 20,
    sizeCalculation: (_value, token) => token.length,
  });
}

/**
 * Whether a remote JWKS could not be read: fetching failed (not a JOSEError), timed out, was not 200 OK
 * or not JSON (jose's generic error, thrown only there), or held no key set. An unknown `kid` is not one
 * of these: that token is refused.
 */
function jwksFailed(err: unknown, j: Jose): boolean {
  if (!(err instanceof j.errors.JOSEError)) return true;
  return (
    err.code === 'ERR_JOSE_GENERIC' || err.code === 'ERR_JWKS_TIMEOUT' || err.code === 'ERR_JWKS_INVALID'
  );
}

/** The string entries of a claim's list: `String([["admin"]])` would be "admin". */
function strings(list: unknown[]): string[] {
  return list.filter((v): v is string => typeof v === 'string');
}

function defaultUser(claims: JwtClaims): AuthUser | undefined {
  if (typeof claims.sub !== 'string' || claims.sub === '') return undefined;
  const scope = claims.scope ?? claims.scp;
  const scopes =
    typeof scope === 'string'
      ? scope.split(' ').filter(Boolean)
      : Array.isArray(scope)
        ? strings(scope)
        : undefined;
  const roles = Array.isArray(claims.roles) ? strings(claims.roles) : undefined;
  return { id: claims.sub, ...(scopes && { scopes }), ...(roles && { roles }) };
}

/** Options of {@link signJwt}. */
export interface SignJwtOptions {
  /** HS*: the shared secret; others: the private key (PEM or `KeyObject`). */
  key: string | Uint8Array | KeyObject;
  algorithm: JwtAlgorithm;
  /** Lifetime; `exp` is set from it. @default 900_000 (15 minutes) */
  expiresInMs?: number;
  issuer?: string;
  audience?: string | string[];
  /** Header `kid`, for verifiers that pick keys from a JWKS. */
  keyId?: string;
}

/**
 * Signs `claims` (put the user's id in `sub`, and `scope` as a space-separated list) into a JWT with
 * `iat` and `exp`.
 */
export async function signJwt(claims: JwtClaims, options: SignJwtOptions): Promise<string> {
  const where = 'signJwt()';
  const [algorithm] = checkAlgorithms(where, [options.algorithm]);
  const key = HMAC.has(algorithm as string)
    ? secretKey(where, options.key)
    : options.key instanceof KeyObject
      ? options.key
      : createPrivateKeyOf(where, options.key);
  const expiresInMs = options.expiresInMs ?? 900_000;
  if (!Number.isSafeInteger(expiresInMs) || expiresInMs < 1000) {
    throw invalidOption(`${where} expiresInMs`, 'an integer number of ms ≥ 1000', expiresInMs);
  }
  const j = await loadJose();
  const now = Math.floor(Date.now() / 1000);
  let jwt = new j.SignJWT(claims)
    .setProtectedHeader({
      alg: algorithm as string,
      typ: 'JWT',
      ...(options.keyId && { kid: options.keyId }),
    })
    .setIssuedAt(now)
    .setExpirationTime(now + Math.ceil(expiresInMs / 1000));
  if (options.issuer !== undefined) jwt = jwt.setIssuer(options.issuer);
  if (options.audience !== undefined) jwt = jwt.setAudience(options.audience);
  return jwt.sign(key);
}

function createPrivateKeyOf(where: string, key: string | Uint8Array): KeyObject {
  try {
    return createPrivateKey(typeof key === 'string' ? key : Buffer.from(key));
  } catch {
    throw invalidOption(
      `${where} key`,
      'a private key (PEM or KeyObject) for public-key algorithms',
      '(hidden)',
    );
  }
}
