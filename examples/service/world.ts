/**
 * The World table (TechEmpower: 10,000 rows of `{ id, randomNumber }`), in memory for now. Lookups are
 * asynchronous, as a database's would be, so `POST /db` exercises `gather()` for real.
 */
export interface World {
  id: number;
  randomNumber: number;
}

export const WORLD_SIZE = 10_000;

export class WorldTable {
  readonly #rows: World[] = [];

  constructor() {
    for (let id = 1; id <= WORLD_SIZE; id++) {
      this.#rows.push({ id, randomNumber: 1 + Math.floor(Math.random() * WORLD_SIZE) });
    }
  }

  /** The row with `id`, after a turn of the event loop (as I/O would take). */
  async find(id: number, signal?: AbortSignal): Promise<World | undefined> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    signal?.throwIfAborted();
    const row = this.#rows[id - 1];
    return row === undefined ? undefined : { ...row };
  }
}
