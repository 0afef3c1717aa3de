// The queue's wait prediction (src/tensor/queue.ts, expectedFromWait): what a repeated workload
// is expected to take next time, from one wait. Pure arithmetic: no device needed.
import { describe, it, expect } from 'vitest';
import { expectedFromWait } from '../../src/tensor/queue.js';

describe('expectedFromWait', () => {
  it('counts the time after we looked (spinning) as slowed down by the spin', () => {
    // Nothing slept: the whole run was spun through; 1500 ms of spinning ~ 1000 ms of work.
    expect(expectedFromWait(0, 1500, false)).toBeCloseTo(1000, 6);
    // Slept 850 ms, then spun 225 ms: 850 + 150.
    expect(expectedFromWait(850, 1075, false)).toBeCloseTo(1000, 6);
  });

  it('after an oversleep expects a little less than the sleep (the work took less)', () => {
    expect(expectedFromWait(1000, 1000.5, true)).toBeCloseTo(900, 6);
  });

  it('converges from a first run that paid for compilation: each oversleep shrinks the estimate', () => {
    // True work 1000 ms; the first run took 3000 ms of spinning (compilation). Sleeping 0.85 of
    // the estimate oversleeps until the estimate falls below ~1176 ms, then measures.
    let expected = expectedFromWait(0, 3000, false);
    const trueMs = 1000;
    for (let i = 0; i < 10; i++) {
      const looked = 0.85 * expected;
      expected = looked >= trueMs ? expectedFromWait(looked, looked + 0.5, true) : expectedFromWait(looked, looked + (trueMs - looked) * 1.5, false);
    }
    expect(expected).toBeCloseTo(trueMs, 6);
  });
});
