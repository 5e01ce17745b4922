/**
 * `weir/overload`: what the App's overload limiter is made of, for reading its counters and for tuning.
 * The limiter is on by default (`new App({ overload: { … } })` tunes it, `overload: false` turns it off);
 * `app.overloadStats()` reads it; the `weir:overload` diagnostics channel reports every shed request and
 * every change of the limit.
 */
export type { OverloadStats } from './limiter.ts';
export { overloadChannel } from './limiter.ts';
export type { OverloadOptions, Priority } from './options.ts';
export type { ShedReason } from './queue.ts';
