import { Readable } from 'node:stream';

/**
 * The stream of one uploaded file, as a handler reads it. It passes on the parser's file stream with its
 * backpressure (the parser, and so the request, waits while the handler does not read), and it fails
 * with the request's error (a limit, a truncated body, the client gone) rather than ending as if the
 * file were whole. Its first bytes can be held back until the file's type is decided (see {@link head}).
 *
 * States: holding (bytes kept in `#head`, not yet pushed; the source paused once `headBytes` are in)
 * → passing (each chunk pushed as it comes, after the held ones) → ended (`push(null)`) or destroyed.
 */
export class UploadStream extends Readable {
  readonly #source: Readable;
  /** Bytes are held back until {@link release}. */
  #held: boolean;
  /** Still reading the head: the source flows until `#wantHead` bytes are held. */
  #collecting: boolean;
  #head: Buffer[] = [];
  #headBytes = 0;
  readonly #wantHead: number;
  #sourceEnded = false;
  #onHead: (() => void) | undefined;

  /**
   * @internal Made by `multipart()`, which reads the first `headBytes` bytes with {@link head} and then
   * calls {@link release} before handing the stream on (0: nothing held back).
   */
  constructor(source: Readable, headBytes: number) {
    super({ highWaterMark: 64 * 1024 });
    this.#source = source;
    this.#held = headBytes > 0;
    this.#collecting = headBytes > 0;
    this.#wantHead = headBytes;
    source.on('data', (chunk: Buffer) => this.#data(chunk));
    source.on('end', () => {
      this.#sourceEnded = true;
      if (!this.#held) this.push(null);
      else if (this.#collecting) this.#headDone();
    });
  }

  #data(chunk: Buffer): void {
    if (this.#held) {
      this.#head.push(chunk);
      this.#headBytes += chunk.length;
      if (this.#collecting && this.#headBytes >= this.#wantHead) this.#headDone();
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
   * @internal Resolves with the first `headBytes` bytes (fewer when the file is shorter), held back from
   * the reader until {@link release}. Rejects when the stream fails first.
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
      if (!this.#collecting) this.#headDone();
    });
  }

  /** @internal Hands the held-back bytes to the reader, then the rest as it comes. */
  release(): void {
    if (!this.#held) return;
    this.#held = false;
    const head = this.#head;
    this.#head = [];
    for (const chunk of head) this.push(chunk);
    if (this.#sourceEnded) this.push(null);
  }

  override _read(): void {
    if (!this.#held && !this.#sourceEnded) this.#source.resume();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#held = false;
    this.#head = [];
    // The rest of this part is read and dropped, so that the parser goes on (or fails) without it.
    this.#source.resume();
    callback(err);
  }
}
