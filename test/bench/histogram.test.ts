import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { bucketOf, bucketRange, Histogram } from '../../src/bench/histogram.ts';
import { classOf, Recorder } from '../../src/bench/recorder.ts';

describe('latency histogram', () => {
  it('files every value in the bucket whose range holds it, buckets contiguous and at most 1/64 wide', () => {
    let previousHigh = 0;
    // 1663 is the last bucket: it ends at 2^31 µs, where values are clamped.
    for (let index = 0; index <= 1663; index++) {
      const [low, high] = bucketRange(index);
      assert.equal(low, previousHigh, `bucket ${index} starts where ${index - 1} ended`);
      assert.equal(bucketOf(low), index);
      assert.equal(bucketOf(high - 1), index);
      if (low >= 128) assert.ok((high - low) / low <= 1 / 64);
      previousHigh = high;
    }
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (v) => {
        const [low, high] = bucketRange(bucketOf(v));
        return low <= v && v < high;
      }),
    );
  });

  it('clamps negative, fractional, huge and non-finite-looking values into the range', () => {
    assert.equal(bucketOf(-5), 0);
    assert.equal(bucketOf(3.9), 3);
    assert.equal(bucketOf(2 ** 40), bucketOf(2 ** 31 - 1));
  });

  it('gives percentiles within 1/64 of the exact ones, and the exact max', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 5_000_000 }), { minLength: 1, maxLength: 400 }),
        fc.constantFrom(50, 90, 99, 99.9),
        (values, p) => {
          const h = new Histogram();
          for (const v of values) h.record(v);
          const sorted = [...values].sort((a, b) => a - b);
          const exact = sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
          const got = h.percentile(p) * 1000;
          assert.ok(Math.abs(got - exact) <= exact / 64 + 1, `p${p}: ${got} µs vs ${exact} µs`);
          assert.equal(h.toJSON().maxUs, sorted.at(-1));
        },
      ),
    );
  });

  it('merges to what recording everything in one gives, and survives its JSON form', () => {
    const a = new Histogram();
    const b = new Histogram();
    const all = new Histogram();
    for (let i = 1; i < 5000; i += 7) {
      (i % 2 ? a : b).record(i * 13);
      all.record(i * 13);
    }
    const merged = new Histogram().merge(a).merge(b);
    assert.deepEqual(merged.toJSON(), all.toJSON());
    const back = Histogram.fromJSON(JSON.parse(JSON.stringify(all.toJSON())));
    assert.deepEqual(back.toJSON(), all.toJSON());
    assert.deepEqual(back.percentiles(), all.percentiles());
  });

  it('is empty-safe: zero counts, zero percentiles', () => {
    const h = new Histogram();
    assert.deepEqual(h.percentiles(), { p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
    assert.equal(h.meanMs, 0);
  });
});

describe('recorder', () => {
  it('keeps each status class apart and counts each status code', () => {
    const r = new Recorder();
    for (let i = 0; i < 90; i++) r.record(200, 40_000 + i, i / 30);
    for (let i = 0; i < 45; i++) r.record(503, 200 + i, i / 15);
    r.record(404, 1000, 0);
    r.record(999, 1000, 0);
    assert.deepEqual(r.classes(), ['2xx', '4xx', '5xx', 'other']);
    assert.deepEqual(r.statuses(), { 200: 90, 404: 1, 503: 45, 999: 1 });
    assert.ok(r.histogram('5xx').percentile(99) < 1);
    assert.ok(r.histogram('2xx').percentile(1) >= 39);
    const timeline = r.timeline();
    assert.deepEqual(
      timeline.map((s) => [s.second, s.classes['2xx']?.count, s.classes['5xx']?.count]),
      [
        [0, 30, 15],
        [1, 30, 15],
        [2, 30, 15],
      ],
    );
  });

  it('names the class of every status, odd ones as other', () => {
    assert.deepEqual([100, 204, 302, 429, 503, 599, 0, 600, -1].map(classOf), [
      '1xx',
      '2xx',
      '3xx',
      '4xx',
      '5xx',
      '5xx',
      'other',
      'other',
      'other',
    ]);
  });
});
