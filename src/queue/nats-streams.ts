/**
 * Declaring a NATS queue's streams without taking one over: a stream of the right name is updated to the
 * queue's settings only when it carries the queue's own subjects. One that carries others belongs to
 * someone else (another application, or queue `x`'s dead letters as weir named them before, which is
 * what `x_DEAD` would have collided with), and the open fails instead of re-pointing it.
 */
import { WeirError } from '../errors.ts';
import type { JetStreamManager } from './nats-driver.ts';

function sameSubjects(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((subject, i) => subject === b[i]);
}

/** The stream's subjects, or `undefined` when there is no such stream. */
export async function streamSubjects(jsm: JetStreamManager, name: string): Promise<string[] | undefined> {
  try {
    return (await jsm.streams.info(name)).config.subjects ?? [];
  } catch (err) {
    if (/not found/i.test((err as Error).message)) return undefined;
    throw err;
  }
}

/**
 * Creates stream `name`, or brings an existing one of this queue's to `config`.
 * @throws `WEIR_ERR_JOBS_NAME_TAKEN` when a stream of that name carries other subjects.
 */
export async function declareStream(
  jsm: JetStreamManager,
  name: string,
  config: { subjects: string[] } & Record<string, unknown>,
): Promise<void> {
  try {
    await jsm.streams.add({ name, ...config });
    return;
  } catch (err) {
    const subjects = await streamSubjects(jsm, name);
    if (subjects === undefined) throw err;
    if (!sameSubjects(subjects, config.subjects)) {
      throw new WeirError(
        'WEIR_ERR_JOBS_NAME_TAKEN',
        `NATS stream ${name} exists with subjects ${JSON.stringify(subjects)}, not this queue's ${JSON.stringify(config.subjects)}: it is not this queue's, and is left as it is`,
      );
    }
  }
  await jsm.streams.update(name, config);
}
