/**
 * Inspect mode: the CLI loads a user's entry module only to read its App (`weir routes`), but loading a
 * module runs its top-level code, `app.listen()` included. In inspect mode `listen()` binds nothing and
 * records the app instead, so the CLI finds it even when the module does not export it, and can exit.
 *
 * The state lives on `globalThis` under a `Symbol.for` key, so the CLI and the entry agree on it even
 * when they load different copies of weir.
 */

const kInspect = Symbol.for('weir.inspect');

/** What inspect mode collects: every app whose `listen()` ran. */
export interface Inspection {
  readonly apps: unknown[];
}

type Holder = { [kInspect]?: Inspection };

/** Turns inspect mode on for this process; returns what it collects. */
export function startInspecting(): Inspection {
  const holder = globalThis as Holder;
  holder[kInspect] ??= { apps: [] };
  return holder[kInspect];
}

/** The current inspection, when the process is in inspect mode. */
export function inspecting(): Inspection | undefined {
  return (globalThis as Holder)[kInspect];
}
