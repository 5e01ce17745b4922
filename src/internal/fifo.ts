/**
 * A first-in first-out line with O(1) `push` and `shift`: an array consumed from a head index. When it
 * drains the array is dropped; while it does not, the consumed front is cut off once it is both over 1,024
 * slots and over half the array, so memory follows what is queued. `pop()` takes from the other end, for
 * the overload queue's last-in first-out mode. Used by `Queue` (items and waiters), `Semaphore` (waiters)
 * and the overload limiter's wait queue.
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

  /** The first item, left in the line. */
  first(): T | undefined {
    return this.#head === this.#items.length ? undefined : this.#items[this.#head];
  }

  /** The last item pushed, left in the line. */
  last(): T | undefined {
    return this.#head === this.#items.length ? undefined : this.#items[this.#items.length - 1];
  }

  /** The last item pushed, removed from the line (last-in first-out); `undefined` when it is empty. */
  pop(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items.pop();
    if (this.#head === this.#items.length) {
      this.#items = [];
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
