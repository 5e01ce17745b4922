/**
 * How a value becomes what a store keeps, and back. The cache core touches values only through a
 * {@link Codec}. A value is serialised once, when it is written: the text goes to Redis, and its length
 * is what `maxValueBytes` and the memory store's `maxBytes` count. The in-process stores (memory, the
 * tiered L1) keep, beside or instead of the text, the value read back from it once and deep-frozen, so a
 * hit costs no parse and every reader shares one read-only value. With `frozen: false` they keep only
 * the text and each read parses its own copy, as Redis reads always do.
 */
import type { Logger } from '../internal/logger.ts';
import type { Serializer } from './cache.ts';
import type { Entry } from './store.ts';

/** What {@link Codec.decode} answers for stored data it cannot read back: the caller treats it as a miss. */
export const MISS: unique symbol = Symbol('miss');

/** A value ready to store: its text, and (when the cache keeps values frozen) the frozen value itself. */
export interface Encoded {
  readonly text: string;
  readonly value?: unknown;
}

/** Turns values into store data and back; never throws. */
export interface Codec {
  /** Whether in-process stores keep frozen values (true) or text only (false). */
  readonly frozen: boolean;
  /** What a store keeps for `value`, or `undefined` when it cannot or should not be cached. */
  encode(value: unknown): Encoded | undefined;
  /** The value serialised as `text`, or {@link MISS}. */
  decode(text: string): unknown;
  /** The value `text` holds, deep-frozen, or {@link MISS}: what an in-process store keeps for it. */
  thaw(text: string): unknown;
  /** The value an entry holds: its frozen value when it has one, else its text read back. */
  valueOf(entry: Entry): unknown;
}

/** The default serializer. */
export const json: Serializer = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (text) => JSON.parse(text),
};

type Trouble = 'serialize' | 'deserialize' | 'too-large';

/**
 * The codec over a {@link Serializer}. Whatever a caller does to a value it passed or got cannot change
 * what the next caller gets: a frozen value is a copy read back from the text, and refuses changes (in
 * strict mode, a TypeError); a value read from text is the reader's own. A serialised value over
 * `maxValueBytes` is not cached. Each kind of trouble is logged once per cache, since a value that fails
 * once usually fails each time.
 */
export class SerializerCodec implements Codec {
  readonly frozen: boolean;
  readonly #serializer: Serializer;
  readonly #maxValueBytes: number;
  readonly #log: Logger;
  readonly #url: string;
  readonly #warned = new Set<Trouble>();

  constructor(serializer: Serializer, maxValueBytes: number, frozen: boolean, log: Logger, url: string) {
    this.#serializer = serializer;
    this.#maxValueBytes = maxValueBytes;
    this.frozen = frozen;
    this.#log = log;
    this.#url = url;
  }

  decode(text: string): unknown {
    try {
      return this.#serializer.deserialize(text);
    } catch (err) {
      this.#warnOnce('deserialize', 'a stored value could not be deserialised (a miss)', err);
      return MISS;
    }
  }

  thaw(text: string): unknown {
    const value = this.decode(text);
    return value === MISS || !deepFreeze(value) ? MISS : value;
  }

  valueOf(entry: Entry): unknown {
    return entry.value !== undefined ? entry.value : this.decode(entry.text);
  }

  encode(value: unknown): Encoded | undefined {
    let text: unknown;
    try {
      text = this.#serializer.serialize(value);
    } catch (err) {
      this.#warnOnce('serialize', 'a value could not be serialised and was not cached', err);
      return undefined;
    }
    if (typeof text !== 'string') return undefined;
    const max = this.#maxValueBytes;
    // A UTF-16 code unit is at most 3 UTF-8 bytes: count the bytes only when the length cannot decide.
    if (text.length > max || (text.length * 3 > max && Buffer.byteLength(text) > max)) {
      this.#warnOnce('too-large', `a value larger than maxValueBytes (${max}) was passed through uncached`);
      return undefined;
    }
    if (!this.frozen) return { text };
    // Read back once now, so that what is kept is what a store that keeps text would answer. A value
    // that cannot be read back is not cached; one that cannot be frozen is kept as text alone.
    const copy = this.decode(text);
    if (copy === MISS) return undefined;
    return deepFreeze(copy) ? { text, value: copy } : { text };
  }

  #warnOnce(kind: Trouble, message: string, err?: unknown): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    this.#log.warn({ cache: this.#url, err }, `cache ${this.#url}: ${message}`);
  }
}

/**
 * Freezes `value` and everything reachable from it (iteratively: any depth a serializer reads back), and
 * says whether that makes it read-only: only primitives, plain objects and arrays can be (a Map, a Date or
 * a typed array a custom serializer makes stays mutable when frozen). Objects may be left partly frozen
 * when the answer is false; the caller then drops them.
 */
export function deepFreeze(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next === 'function') return false;
    if (typeof next !== 'object' || next === null) continue;
    const proto = Object.getPrototypeOf(next);
    if (!Array.isArray(next) && proto !== Object.prototype && proto !== null) return false;
    if (Object.isFrozen(next)) continue;
    Object.freeze(next);
    for (const key of Reflect.ownKeys(next)) pending.push((next as Record<PropertyKey, unknown>)[key]);
  }
  return true;
}
