/**
 * Holding a database's connection from a test: a transaction that runs until the test lets it end, never
 * a timing. Shared by the tests of pool statistics and of waits for a connection.
 */
import assert from 'node:assert/strict';
import type { Database } from 'weir/db';

/** A gate: `open()` lets everything awaiting `wait` through. */
export function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { wait, open };
}

/** Starts a transaction that holds its connection until the gate opens; resolves once it runs. */
export async function holdTransaction(db: Database, until: Promise<void>): Promise<{ done: Promise<void> }> {
  const began = gate();
  const done = db.transaction(async (tx) => {
    await tx.query`SELECT 1 AS one`;
    began.open();
    await until;
  });
  await began.wait;
  return { done };
}

/** Polls (bounded) until `condition` holds. */
export async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`${what} never held`);
}

/** A transaction that holds its connection until `release()`; resolves once it runs. */
export async function hold(db: Database): Promise<{ release: () => void; done: Promise<void> }> {
  const release = gate();
  const { done } = await holdTransaction(db, release.wait);
  return { release: release.open, done };
}
