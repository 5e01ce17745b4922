/**
 * How a value becomes what a store keeps, and back. The cache core touches values only through a
 * {@link Codec}, so what a store keeps (today a serialised string for every store) is decided here.
 */
import type { Logger } from '../internal/logger.ts';
import type { Serializer } from './cache.ts';

/** What {@link Codec.decode} answers for stored data it cannot read back: the caller treats it as a miss. */
export const MISS: unique symbol = Symbol('miss');

/** Turns values into store data and back; never throws. */
export interface Codec {
  /** What a store keeps for `value`, or `undefined` when it cannot or should not be cached. */
  encode(value: unknown): string | undefined;
  /** The value `data` holds, or {@link MISS}. */
  decode(data: string): unknown;
}

/** The default serializer. */
export const json: Serializer = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (text) => JSON.parse(text),
};

type Trouble = 'serialize' | 'deserialize' | 'too-large';

/**
 * The codec over a {@link Serializer}: values are copied both ways, so what a caller does to a value it
 * got cannot change what the next caller gets. A serialised value over `maxValueBytes` is not cached.
 * Each kind of trouble is logged once per cache, since a value that fails once usually fails each time.
 */
export class SerializerCodec implements Codec {
  readonly #serializer: Serializer;
  readonly #maxValueBytes: number;
  readonly #log: Logger;
  readonly #url: string;
  readonly #warned = new Set<Trouble>();

  constructor(serializer: Serializer, maxValueBytes: number, log: Logger, url: string) {
    this.#serializer = serializer;
    this.#maxValueBytes = maxValueBytes;
    this.#log = log;
    this.#url = url;
  }

  decode(data: string): unknown {
    try {
      return this.#serializer.deserialize(data);
    } catch (err) {
      this.#warnOnce('deserialize', 'a stored value could not be deserialised (a miss)', err);
      return MISS;
    }
  }

  encode(value: unknown): string | undefined {
    let data: unknown;
    try {
      data = this.#serializer.serialize(value);
    } catch (err) {
      this.#warnOnce('serialize', 'a value could not be serialised and was not cached', err);
      return undefined;
    }
    if (typeof data !== 'string') return undefined;
    const max = this.#maxValueBytes;
    // A UTF-16 code unit is at most 3 UTF-8 bytes: count the bytes only when the length cannot decide.
    if (data.length > max || (data.length * 3 > max && Buffer.byteLength(data) > max)) {
      this.#warnOnce('too-large', `a value larger than maxValueBytes (${max}) was passed through uncached`);
      return undefined;
    }
    return data;
  }

  #warnOnce(kind: Trouble, message: string, err?: unknown): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    this.#log.warn({ cache: this.#url, err }, `cache ${this.#url}: ${message}`);
  }
}
