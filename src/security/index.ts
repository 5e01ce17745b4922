/**
 * weir/security: password hashes today; sessions, the authentication guard, CSRF, CORS, security headers
 * and rate limits build on it.
 * @module
 */
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
