import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Fifo } from '../../src/internal/fifo.ts';

describe('Fifo', () => {
  it('keeps first-in first-out order and its length across drains and compactions', () => {
    const line = new Fifo<number>();
    assert.equal(line.shift(), undefined);
    let next = 0;
    let expected = 0;
    // Interleave so the line never drains while the consumed front passes the 1,024-slot compaction.
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 300; i++) line.push(next++);
      for (let i = 0; i < 200; i++) assert.equal(line.shift(), expected++);
      assert.equal(line.length, next - expected);
    }
    while (line.length > 0) assert.equal(line.shift(), expected++);
    assert.equal(expected, next);
    assert.equal(line.shift(), undefined);
    line.push(1);
    line.clear();
    assert.equal(line.length, 0);
  });
});
