/**
 * Password hashes on node:crypto's scrypt. A hash is one string that carries its own parameters,
 * `scrypt$N$r$p$salt$key` (salt and key in base64url), so that a hash made with older parameters still
 * verifies and can be replaced at the next login ({@link needsRehash}).
 *
 * scrypt runs on libuv's thread pool (4 threads by default), which file system calls, DNS lookups and zlib
 * share: a flood of logins must not starve them. So at most `maxConcurrent` hashes run at once (default 2,
 * leaving half the pool), at most `maxWaiting` wait (default 64), and one more is refused at once with 503
 * `WEIR_ERR_PASSWORD_BUSY` and `Retry-After`, which a login route can let through to shed the flood.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { Semaphore } from '../concurrency/lock.ts';
import type { SignalOptions } from '../concurrency/sleep.ts';
import { httpError, invalidOption, isWeirError, WeirError } from '../errors.ts';

/**
 * The cost parameters of new hashes. Together they may ask for at most 256 MiB (128 × N × r) and 2^22 of
 * work (N × r × p, 16 times the default); a stored hash past either is refused, not computed.
 */
export interface HashParameters {
  /** CPU and memory cost, a power of two; memory is 128 × N × r bytes. @default 32768 (32 MiB with r = 8) */
  N?: number;
  /** Block size. @default 8 */
  r?: number;
  /** Parallelism. @default 1 */
  p?: number;
}

/** Bounds of the hashing that runs at once. */
export interface PasswordLimits {
  /** Hashes computed at once (each takes a libuv pool thread). @default 2 */
  maxConcurrent?: number;
  /** Hashes waiting for a turn; one more is refused with 503 `WEIR_ERR_PASSWORD_BUSY`. @default 64 */
  maxWaiting?: number;
  /**
   * The parameters of new hashes, which `needsRehash()` compares against and a verification without a
   * hash spends its time on. @default { N: 32768, r: 8, p: 1 }
   */
  parameters?: HashParameters;
}

const DEFAULTS = { N: 32_768, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Longest password accepted, in UTF-8 bytes: scrypt's cost grows with it, so it is bounded. */
export const MAX_PASSWORD_BYTES = 1024;
// Bounds on parameters, new or read back from a stored hash: a tampered row must not make one login take
// minutes or gigabytes. Each alone, and then their products: memory is 128 × N × r bytes (at most 256 MiB,
// 8 times the default), work N × r × p (at most 2^22, 16 times the default, a second or two).
const MAX_N = 1 << 20;
const MAX_R = 32;
const MAX_P = 16;
const MAX_MEMORY_BYTES = 256 * 1024 * 1024;
const MAX_WORK = 2 ** 22;

function affordable(N: number, r: number, p: number): boolean {
  return 128 * N * r <= MAX_MEMORY_BYTES && N * r * p <= MAX_WORK;
}

let limits = { maxConcurrent: 2, maxWaiting: 64 };
/** The parameters of new hashes (and of the stand-in verification for a user that does not exist). */
let current: { N: number; r: number; p: number } = { ...DEFAULTS };
let turns = new Semaphore(limits.maxConcurrent, { maxWaiting: limits.maxWaiting });

/** Sets how many hashes run and wait at once, and the parameters of new hashes, for the whole process. */
export function configurePasswords(options: PasswordLimits): void {
  const maxConcurrent = options.maxConcurrent ?? limits.maxConcurrent;
  const maxWaiting = options.maxWaiting ?? limits.maxWaiting;
  if (!Number.isSafeInteger(maxConcurrent) || maxConcurrent < 1) {
    throw invalidOption('configurePasswords() maxConcurrent', 'an integer ≥ 1', maxConcurrent);
  }
  if (!Number.isSafeInteger(maxWaiting) || maxWaiting < 0) {
    throw invalidOption('configurePasswords() maxWaiting', 'a non-negative integer', maxWaiting);
  }
  if (options.parameters !== undefined) current = checkParameters({ ...DEFAULTS, ...options.parameters });
  limits = { maxConcurrent, maxWaiting };
  turns = new Semaphore(maxConcurrent, { maxWaiting });
}

/** Hashes running and waiting now. */
export function passwordStats(): { running: number; waiting: number } & Required<
  Omit<PasswordLimits, 'parameters'>
> {
  return { running: limits.maxConcurrent - turns.available, waiting: turns.waiting, ...limits };
}

interface Parsed {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

/**
 * Hashes `password` with a fresh random salt.
 * @throws HttpError 400 `WEIR_ERR_PASSWORD_TOO_LONG` past 1,024 UTF-8 bytes; 503 `WEIR_ERR_PASSWORD_BUSY`
 *   when `maxWaiting` hashes already wait.
 */
export async function hashPassword(
  password: string,
  options: HashParameters & SignalOptions = {},
): Promise<string> {
  const { N, r, p } = checkParameters(options);
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(checkPassword(password), salt, N, r, p, KEY_BYTES, options);
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/**
 * Whether `password` matches `hash`, compared in constant time. With no hash (`undefined` or `null`: the
 * user does not exist) it still spends the time of one verification, with the parameters new hashes get (not
 * those of a hash it read last, which a caller could steer), then answers false: a login takes as long for
 * an unknown name as for a wrong password whose hash has current parameters. Rehash older hashes at login
 * ({@link needsRehash}): until then an account with an older hash answers in its own time.
 * @throws WeirError `WEIR_ERR_PASSWORD_HASH` when `hash` is not a scrypt hash weir can read (a data
 *   problem, not a wrong password); the HttpErrors of {@link hashPassword}.
 */
export async function verifyPassword(
  password: string,
  hash: string | null | undefined,
  options: SignalOptions = {},
): Promise<boolean> {
  const bytes = checkPassword(password);
  // '' is an account without a password (one that signs in some other way): answered as no account.
  if (hash === undefined || hash === null || hash === '') {
    const { N, r, p } = current;
    await derive(bytes, DUMMY_SALT, N, r, p, KEY_BYTES, options);
    return false;
  }
  const parsed = parseHash(hash);
  const key = await derive(bytes, parsed.salt, parsed.N, parsed.r, parsed.p, parsed.key.length, options);
  return timingSafeEqual(key, parsed.key);
}

/** True when `hash` was made with other parameters than `options` (the defaults): hash it again. */
export function needsRehash(hash: string, options: HashParameters = {}): boolean {
  const wanted = checkParameters(options);
  const parsed = parseHash(hash);
  return (
    parsed.N !== wanted.N || parsed.r !== wanted.r || parsed.p !== wanted.p || parsed.key.length !== KEY_BYTES
  );
}

const DUMMY_SALT = randomBytes(SALT_BYTES);

function checkPassword(password: string): Buffer {
  if (typeof password !== 'string') throw invalidOption('password', 'a string', typeof password);
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length > MAX_PASSWORD_BYTES) {
    throw httpError('WEIR_ERR_PASSWORD_TOO_LONG', `A password is at most ${MAX_PASSWORD_BYTES} bytes`);
  }
  return bytes;
}

function checkParameters(options: HashParameters): { N: number; r: number; p: number } {
  const { N = current.N, r = current.r, p = current.p } = options;
  if (!Number.isSafeInteger(N) || N < 2 || N > MAX_N || (N & (N - 1)) !== 0) {
    throw invalidOption('scrypt N', `a power of two from 2 to ${MAX_N}`, N);
  }
  if (!Number.isSafeInteger(r) || r < 1 || r > MAX_R) throw invalidOption('scrypt r', `1 to ${MAX_R}`, r);
  if (!Number.isSafeInteger(p) || p < 1 || p > MAX_P) throw invalidOption('scrypt p', `1 to ${MAX_P}`, p);
  if (!affordable(N, r, p)) {
    throw invalidOption(
      'scrypt N, r, p',
      `at most ${MAX_MEMORY_BYTES / 2 ** 20} MiB (128 × N × r) and ${MAX_WORK} of work (N × r × p)`,
      `${N}, ${r}, ${p}`,
    );
  }
  return { N, r, p };
}

function parseHash(hash: string): Parsed {
  const parts = typeof hash === 'string' ? hash.split('$') : [];
  const [scheme, n, r, p, salt, key] = parts;
  const parsed = {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    salt: Buffer.from(salt ?? '', 'base64url'),
    key: Buffer.from(key ?? '', 'base64url'),
  };
  const sane =
    parts.length === 6 &&
    scheme === 'scrypt' &&
    [n, r, p].every((v) => /^\d{1,7}$/.test(v ?? '')) &&
    parsed.N >= 2 &&
    parsed.N <= MAX_N &&
    (parsed.N & (parsed.N - 1)) === 0 &&
    parsed.r >= 1 &&
    parsed.r <= MAX_R &&
    parsed.p >= 1 &&
    parsed.p <= MAX_P &&
    affordable(parsed.N, parsed.r, parsed.p) &&
    parsed.salt.length >= 8 &&
    parsed.key.length >= 16 &&
    parsed.key.length <= 128;
  if (!sane) {
    // The hash itself is not repeated: it is a secret of sorts, and may be long.
    throw new WeirError(
      'WEIR_ERR_PASSWORD_HASH',
      'The stored password hash is not a scrypt hash weir can read',
    );
  }
  return parsed;
}

/** One scrypt run, in turn with the others (see the top of this file). */
async function derive(
  password: Buffer,
  salt: Buffer,
  N: number,
  r: number,
  p: number,
  keyLength: number,
  options: SignalOptions,
): Promise<Buffer> {
  let release: () => void;
  try {
    release = await turns.acquire(options);
  } catch (err) {
    if (isWeirError(err) && err.code === 'WEIR_ERR_SEMAPHORE_FULL') {
      throw httpError(
        'WEIR_ERR_PASSWORD_BUSY',
        'Too many passwords are being checked; retry shortly',
        undefined,
        {
          headers: { 'retry-after': '1' },
        },
      );
    }
    throw err;
  }
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      // maxmem: OpenSSL needs 128 × r × (N + 2) bytes for V and 128 × r × p for B, and refuses one byte
      // more than maxmem (Node's default is 32 MiB); the parameters were bounded before this point.
      scrypt(password, salt, keyLength, { N, r, p, maxmem: 128 * r * (N + p + 2) }, (err, key) =>
        err === null ? resolve(key) : reject(err),
      );
    });
  } finally {
    release();
  }
}
