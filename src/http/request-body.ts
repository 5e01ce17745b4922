import type { IncomingMessage } from 'node:http';
import { httpError } from '../errors.ts';
import { collectBody, expectType, isJsonType, parseForm, parseJson, readBody } from './body.ts';
import type { BodyRate } from './body-rate.ts';

/**
 * A request's body as `ctx.buffer()`, `ctx.json()`, `ctx.text()` and `ctx.form()` read it: once, within
 * the route's size limit, JSON depth and minimum data rate, each later call answering from what the first
 * one read. A route's body schema reads it through {@link RequestBody.read}, by callbacks that make no
 * promise: the public methods then answer as if they had read it themselves.
 */

type Kind = 'json' | 'form';
type Settle = (resolve: (value: never) => void, reject: (err: unknown) => void) => void;

const NOOP = (): void => {};
const isFormType = (type: string): boolean => type === 'application/x-www-form-urlencoded';

/** Reading states of {@link RequestBody.read}. */
const UNREAD = 0;
const READING = 1;
const DONE = 2;

export class RequestBody {
  readonly #req: IncomingMessage;
  readonly #limitBytes: number;
  readonly #maxDepth: number;
  /** The rate to hold the body to, taken once (the raw stream may already be watched). */
  readonly #takeRate: () => BodyRate;
  /** Decompress a gzip, deflate or br body (`decompressBodies`). */
  readonly #decompress: boolean;
  #raw: Promise<Buffer> | undefined;
  #parsed: Promise<unknown> | undefined;
  #parsedAs = '';
  // What read() found: the bytes (undefined when they could not be read), the value or the error.
  #state = UNREAD;
  #bytes: Buffer | undefined;
  #value: unknown;
  #error: unknown;
  #waiters: (() => void)[] | undefined;

  constructor(
    req: IncomingMessage,
    limitBytes: number,
    maxDepth: number,
    takeRate: () => BodyRate,
    decompress = false,
  ) {
    this.#req = req;
    this.#decompress = decompress;
    this.#limitBytes = limitBytes;
    this.#maxDepth = maxDepth;
    this.#takeRate = takeRate;
  }

  /** The body as bytes. */
  buffer(): Promise<Buffer> {
    if (this.#raw === undefined) {
      this.#raw =
        this.#state === UNREAD
          ? readBody(this.#req, this.#limitBytes, this.#takeRate(), this.#decompress)
          : this.#after((resolve, reject) =>
              this.#bytes === undefined ? reject(this.#error) : resolve(this.#bytes as never),
            );
    }
    return this.#raw;
  }

  /** The body parsed as JSON (see `ctx.json()`). */
  json(): Promise<unknown> {
    return this.#parse('json', () => {
      expectType(this.#req, 'application/json', isJsonType);
      return this.buffer().then((raw) => parseJson(raw, this.#maxDepth));
    });
  }

  /** The body as UTF-8 text, whatever its type. */
  text(): Promise<string> {
    return this.#parse('text', () => this.buffer().then((raw) => raw.toString('utf8'))) as Promise<string>;
  }

  /** An `application/x-www-form-urlencoded` body (see `ctx.form()`). */
  form(): Promise<Record<string, string | string[]>> {
    return this.#parse('form', () => {
      expectType(this.#req, 'application/x-www-form-urlencoded', isFormType);
      return this.buffer().then((raw) => parseForm(raw.toString('utf8')));
    }) as Promise<Record<string, string | string[]>>;
  }

  /**
   * Reads and parses the body as `kind` and calls `done` once with the value or the error: with
   * callbacks, no promise made. `done` may run before this returns (a type refused from the head).
   */
  read(kind: Kind, done: (err: unknown, value: unknown) => void): void {
    if (this.#state !== UNREAD || this.#raw !== undefined || this.#parsed !== undefined) {
      (kind === 'json' ? this.json() : this.form()).then(
        (value) => done(undefined, value),
        (err: unknown) => done(err, undefined),
      );
      return;
    }
    this.#parsedAs = kind;
    try {
      if (kind === 'json') expectType(this.#req, 'application/json', isJsonType);
      else expectType(this.#req, 'application/x-www-form-urlencoded', isFormType);
    } catch (err) {
      // The bytes stay unread: a later buffer() reads them; a later json() is told the same.
      this.#parsed = Promise.reject(err);
      this.#parsed.catch(NOOP);
      done(err, undefined);
      return;
    }
    this.#state = READING;
    collectBody(this.#req, this.#limitBytes, this.#takeRate(), this.#decompress, (err, raw) => {
      if (err === undefined) {
        this.#bytes = raw;
        try {
          this.#value = kind === 'json' ? parseJson(raw!, this.#maxDepth) : parseForm(raw!.toString('utf8'));
        } catch (parseErr) {
          this.#error = parseErr;
        }
      } else {
        this.#error = err;
      }
      this.#state = DONE;
      const waiters = this.#waiters;
      this.#waiters = undefined;
      if (waiters !== undefined) for (const wake of waiters) wake();
      done(this.#error, this.#value);
    });
  }

  #parse(kind: string, parse: () => Promise<unknown>): Promise<unknown> {
    if (this.#parsed === undefined && this.#state !== UNREAD) {
      this.#parsed = this.#after((resolve, reject) =>
        this.#error === undefined ? resolve(this.#value as never) : reject(this.#error),
      );
    }
    if (this.#parsed !== undefined) {
      if (this.#parsedAs === kind) return this.#parsed;
      const first = this.#parsedAs;
      return this.buffer().then((raw) => {
        if (kind === 'text') return raw.toString('utf8');
        throw httpError('WEIR_ERR_BODY_CONSUMED', `The body was already read as ${first}, not ${kind}`);
      });
    }
    this.#parsedAs = kind;
    try {
      this.#parsed = parse();
    } catch (err) {
      this.#parsed = Promise.reject(err);
    }
    return this.#parsed;
  }

  /** A promise settled by `settle` once read() is done (at once when it is). */
  #after<T>(settle: Settle): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const run = (): void => settle(resolve as (value: never) => void, reject);
      if (this.#state === DONE) {
        run();
        return;
      }
      this.#waiters ??= [];
      this.#waiters.push(run);
    });
  }
}
