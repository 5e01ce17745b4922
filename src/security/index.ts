/**
 * weir/security: password hashes, server-side sessions, the `requireAuth()` guard for session users and
 * bearer tokens (opaque or JWT); CSRF, CORS, security headers and rate limits build on it.
 * @module
 */
export { type RequireAuthOptions, requireAuth } from './auth.ts';
export { type CorsOptions, type CorsOrigin, cors } from './cors.ts';
export { type CsrfOptions, csrf, csrfToken } from './csrf.ts';
export { type CspDirectives, cspNonce, type SecurityHeadersOptions, securityHeaders } from './headers.ts';
export {
  type JwtAlgorithm,
  type JwtClaims,
  type JwtKey,
  type JwtOptions,
  type SignJwtOptions,
  signJwt,
} from './jwt.ts';
export {
  configurePasswords,
  type HashParameters,
  hashPassword,
  MAX_PASSWORD_BYTES,
  needsRehash,
  type PasswordLimits,
  passwordStats,
  verifyPassword,
} from './passwords.ts';
export {
  clientKey,
  createRateLimiter,
  MemoryRateLimitStore,
  type MemoryRateLimitStoreOptions,
  openRateLimitStore,
  type RateDecision,
  RateLimiter,
  type RateLimiterOptions,
  type RateLimitOptions,
  type RateLimitResult,
  type RateLimitStore,
  type RateLimitStoreOptions,
  type RateParams,
  RedisRateLimitStore,
  type RedisRateLimitStoreOptions,
  rateLimit,
  rateLimitFields,
  refusal as rateLimitRefusal,
} from './rate-limit/index.ts';
export { type AuthUser, Session, type SessionData, session } from './session.ts';
export type { SessionCookieOptions, SessionOptions } from './session-options.ts';
export { MemorySessionStore, type MemorySessionStoreOptions } from './stores/memory.ts';
export {
  DEFAULT_SESSION_STORE,
  openSessionStore,
  type SessionStoreOptions,
  type SessionStoreTarget,
} from './stores/open.ts';
export { RedisSessionStore, type RedisSessionStoreOptions } from './stores/redis.ts';
export { SqlSessionStore, type SqlSessionStoreOptions } from './stores/sql.ts';
export type { SessionRecord, SessionStore } from './stores/store.ts';
