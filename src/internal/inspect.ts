/**
 * The CLI loads a user's entry module to find its App, but loading a module runs its top-level code,
 * `app.listen()` included. While an inspection is on, every `listen()` records its app (so the CLI finds
 * it even when the module does not export it) and, for `weir routes`, binds nothing.
 *
 * The state lives on `globalThis` under a `Symbol.for` key, so the CLI and the entry agree on it even
 * when they load different copies of weir.
 */

const kInspect = Symbol.for('weir.inspect');

/** What an inspection collects. */
export interface Inspection {
  /** false: `listen()` binds nothing and runs no hook (`weir routes`). */
  readonly bind: boolean;
  /** Every app whose `listen()` ran, in order. */
  readonly apps: unknown[];
}

type Holder = { [kInspect]?: Inspection };

/** Starts an inspection for this process; returns what it collects. */
export function startInspecting(options: { bind: boolean }): Inspection {
  const holder = globalThis as Holder;
  holder[kInspect] ??= { bind: options.bind, apps: [] };
  return holder[kInspect];
}

/** The current inspection, if one is on. */
export function inspecting(): Inspection | undefined {
  return (globalThis as Holder)[kInspect];
}
