/**
 * What a path answers a method it has no route for: an automatic `OPTIONS` (its `Allow`), 405 with
 * `Allow`, or, on a WebSocket route's path asked without an upgrade, 426.
 */
import { httpError } from '../errors.ts';
import type { Chain } from './compose.ts';

/** The kinds of answer, each a chain made from the path's `Allow`. */
export type FallbackKind = 'OPTIONS' | '405' | '426';

/** The answers of a path to a method it has no route for, given the path's `Allow`. */
export const FALLBACKS: Record<FallbackKind, (allow: string) => Chain> = {
  OPTIONS: (allow) => (ctx) => {
    ctx.set('allow', allow);
  },
  '405': (allow) => (ctx) => {
    throw httpError('WEIR_ERR_METHOD_NOT_ALLOWED', `${ctx.method} is not allowed on ${ctx.path}`, undefined, {
      headers: { allow },
    });
  },
  // A WebSocket route's path, asked without an upgrade (RFC 9110 §15.5.22: 426 names the protocol).
  '426': () => (ctx) => {
    throw httpError(
      'WEIR_ERR_UPGRADE_REQUIRED',
      `${ctx.path} is a WebSocket endpoint: connect with Upgrade: websocket`,
      undefined,
      {
        headers: { upgrade: 'websocket' },
      },
    );
  },
};

/** The answer for `method` on a path whose routes answer `methods` (HEAD→GET and ALL come first). */
export function fallbackKind(method: string, methods: ReadonlyMap<string, unknown>): FallbackKind {
  if (method === 'OPTIONS') return 'OPTIONS';
  return (method === 'GET' || method === 'HEAD') && methods.has('WS') ? '426' : '405';
}
