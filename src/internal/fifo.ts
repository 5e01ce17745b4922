/**
 * A first-in first-out line with O(1) `push` and `shift`: an array consumed from a head index. When it
 * drains the array is dropped; while it does not, the consumed front is cut off once it is both over 1,024
 * slots and over half the array, so memory follows what is queued. Used by `Queue` (items and waiters)
 * and `Semaphore` (waiters).
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Items in the line. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The first item, removed from the line; `undefined` when the line is empty. */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Empties the line. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
