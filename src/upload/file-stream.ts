import { Readable } from 'node:stream';

/**
 * The stream of one uploaded file, as a handler reads it. It passes on the parser's file stream with its
 * backpressure (the parser, and so the request, waits while the handler does not read), and it fails
 * with the request's error (a limit, a truncated body, the client gone) rather than ending as if the
 * file were whole. Its first bytes can be held back until the file's type is decided (see {@link head}).
 *
 * States: collecting the head (bytes kept in `#head`, not yet pushed) → passing (each chunk pushed as
 * it comes) → ended (`push(null)`) or destroyed with an error.
 */
export class UploadStream extends Readable {
  readonly #source: Readable;
  #collecting = false;
  #head: Buffer[] = [];
  #headBytes = 0;
  #wantHead = 0;
  #sourceEnded = false;
  #onHead: (() => void) | undefined;

  /**
   * @internal Made by `multipart()`, which reads the first `headBytes` bytes with {@link head} before
   * handing the stream on when it checks the file's type (0: no head held back).
   */
  constructor(source: Readable, headBytes: number) {
    super({ highWaterMark: 64 * 1024 });
    this.#source = source;
    this.#collecting = headBytes > 0;
    this.#wantHead = headBytes;
    source.on('data', (chunk: Buffer) => this.#data(chunk));
    source.on('end', () => {
      this.#sourceEnded = true;
      if (this.#collecting) this.#headDone();
      else this.push(null);
    });
  }

  #data(chunk: Buffer): void {
    if (this.#collecting) {
      this.#head.push(chunk);
      this.#headBytes += chunk.length;
      if (this.#headBytes >= this.#wantHead) this.#headDone();
      return;
    }
    if (!this.push(chunk)) this.#source.pause();
  }

  #headDone(): void {
    this.#collecting = false;
    this.#source.pause();
    const done = this.#onHead;
    this.#onHead = undefined;
    done?.();
  }

  /**
   * @internal Resolves with the first `headBytes` bytes (fewer when the file is shorter), held back from the
   * reader until {@link release}. Rejects when the stream fails first.
   */
  head(): Promise<Buffer> {
    const bytes = this.#wantHead;
    return new Promise((resolve, reject) => {
      if (this.destroyed) {
        reject(this.errored ?? new Error('The upload stream was destroyed'));
        return;
      }
      const onError = (err: Error): void => {
        this.#onHead = undefined;
        reject(err);
      };
      this.once('error', onError);
      this.#onHead = () => {
        this.off('error', onError);
        const head = Buffer.concat(this.#head, this.#headBytes);
        resolve(head.subarray(0, Math.min(bytes, head.length)));
      };
      if (!this.#collecting) this.#onHead();
    });
  }

  /** @internal Hands the held-back head to the reader, then the rest as it comes. */
  release(): void {
    const head = this.#head;
    this.#head = [];
    for (const chunk of head) this.push(chunk);
    if (this.#sourceEnded) this.push(null);
  }

  override _read(): void {
    if (!this.#collecting && !this.#sourceEnded) this.#source.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#head = [];
    // The rest of this part is read and dropped, so that the parser goes on (or fails) without it.
    this.#source.resume();
    callback(err);
  }
}
