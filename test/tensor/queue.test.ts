// The queue's wait prediction (src/tensor/queue.ts, expectedFromWait): what a repeated workload
// is expected to take next time, from one wait, and the napping wait (napWhilePending), without a
// device; with one, the batch limit (setBatchLimit) and the GPU's ramp of batch sizes.
import { describe, it, expect, vi } from 'vitest';
import { expectedFromWait, napWhilePending, setBatchLimit, setBatchRulesFor, commands } from '../../src/tensor/queue.js';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';

describe('expectedFromWait', () => {
  it('counts the time after we looked (spinning) as slowed down by the spin', () => {
    // Nothing slept: the whole run was spun through; 1500 ms of spinning ~ 1000 ms of work.
    expect(expectedFromWait(0, 1500, false)).toBeCloseTo(1000, 6);
    // Slept 850 ms, then spun 225 ms: 850 + 150.
    expect(expectedFromWait(850, 1075, false)).toBeCloseTo(1000, 6);
  });

  it('counts polled time at full speed where the main thread napped between polls', () => {
    expect(expectedFromWait(850, 1000, false, 1)).toBeCloseTo(1000, 6);
  });

  it('after an oversleep expects half the sleep (the work took less; looking early costs little)', () => {
    expect(expectedFromWait(1000, 1000.5, true)).toBeCloseTo(500, 6);
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

describe('napWhilePending', () => {
  it('passes the value or the error through, and stops napping once settled', async () => {
    const later = <T>(ms: number, f: () => T) => new Promise<T>((resolve, reject) => setTimeout(() => { try { resolve(f()); } catch (e) { reject(e); } }, ms));
    const t0 = performance.now();
    await expect(napWhilePending(later(20, () => 42))).resolves.toBe(42);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(19);
    await expect(napWhilePending(later(5, () => { throw new Error('device lost'); }))).rejects.toThrow('device lost');
    // Settled: no nap is queued any more (counted on Atomics.wait, which a nap calls).
    const naps = vi.spyOn(Atomics, 'wait');
    try {
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      expect(naps).toHaveBeenCalledTimes(0);
      const pending = napWhilePending(later(10, () => 1));
      await pending;
      expect(naps.mock.calls.length).toBeGreaterThan(0);
      const after = naps.mock.calls.length;
      // With napFromMs, work done within that time is polled for without a single nap.
      await napWhilePending(later(1, () => 2), 1000);
      expect(naps.mock.calls.length).toBe(after);
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      expect(naps.mock.calls.length).toBeLessThanOrEqual(after + 1);
    } finally {
      naps.mockRestore();
    }
  });

  it('lets the event loop turn while it waits (timers and immediates still run)', async () => {
    let turns = 0;
    const count = () => { turns++; };
    const waited = napWhilePending(new Promise<void>((r) => setTimeout(r, 30)));
    const ticker = setInterval(count, 1);
    await waited;
    clearInterval(ticker);
    expect(turns).toBeGreaterThan(3);
  });
});

describe('setBatchLimit', () => {
  useDevice();

  it('submits a batch every n dispatches, with the same results, and rejects limits outside 1..512', async () => {
    const a = wg.tensor([1, 2, 3, 4]);
    const run = async () => {
      const q = commands();
      await wg.sync();
      const before = q.submits;
      let t = a;
      for (let i = 0; i < 10; i++) {
        const next = wg.add(t, 1);
        if (t !== a) t.dispose();
        t = next;
      }
      const values = [...(await t.data())];
      t.dispose();
      return { values, submits: q.submits - before };
    };
    const old = setBatchLimit(3);
    try {
      const small = await run();
      setBatchLimit(512);
      const whole = await run();
      expect(small.values).toEqual([11, 12, 13, 14]);
      expect(whole.values).toEqual(small.values);
      expect(small.submits).toBeGreaterThanOrEqual(whole.submits + 3);
    } finally {
      setBatchLimit(old);
    }
    expect(() => setBatchLimit(0)).toThrow(/1\.\.512/);
    expect(() => setBatchLimit(513)).toThrow(/1\.\.512/);
    a.dispose();
  });
});

describe('batches on a GPU', () => {
  useDevice();

  it('the first batch after a wait holds 16 dispatches, each next one twice as many up to 64', async () => {
    const a = wg.tensor([1, 2, 3, 4]);
    // Submits after each of `count` dispatches recorded right after a wait.
    const submitsAfter = async (count: number) => {
      const q = commands();
      await wg.sync();
      const before = q.submits;
      const marks: number[] = [];
      let t = a;
      for (let i = 1; i <= count; i++) {
        const next = wg.add(t, 1);
        if (t !== a) t.dispose();
        t = next;
        if (q.submits > before + marks.length) marks.push(i);
      }
      expect([...(await t.data())]).toEqual([1, 2, 3, 4].map((v) => v + count));
      t.dispose();
      return marks;
    };
    const old = setBatchRulesFor('gpu');
    try {
      expect(await submitsAfter(200)).toEqual([16, 48, 112, 176]);
      expect(await submitsAfter(20)).toEqual([16]); // the wait restarted the ramp
      setBatchRulesFor('cpu');
      expect(await submitsAfter(200)).toEqual([]); // one batch, submitted at the wait
    } finally {
      setBatchRulesFor(old);
    }
    a.dispose();
  });
});

describe('clear', () => {
  useDevice();
  it('zeroes a byte range of a buffer with a command, not a dispatch: it runs inside wg.warmup too', async () => {
    const t = wg.tensor(Float32Array.from({ length: 16 }, (_, i) => i + 1));
    const buffer = t.buffer as GPUBuffer;
    await wg.warmup(() => commands().clear(buffer, 16, 32)); // elements 4..11
    expect([...(await t.data())]).toEqual([1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 13, 14, 15, 16]);
    t.dispose();
  });
});

describe('uniform slots under a schedule', () => {
  useDevice();
  it('a parameter struct that changes every step (an lr schedule) fills the uniform buffer, which starts afresh and stays correct', async () => {
    // 5,000 SGD steps whose lr differs every step: one new 256-byte slot each, more than the
    // buffer's 4,096, so it fills mid-run, the queue submits and the slots start again at 0.
    const p = wg.tensor([1, 2, 3, 4], [4], { requiresGrad: true });
    const opt = new wg.optim.SGD([p], { lr: 0.1 });
    const grad = wg.tensor([1, -1, 0.5, 2]);
    const want = Float64Array.from([1, 2, 3, 4]);
    const g = [1, -1, 0.5, 2];
    for (let step = 0; step < 5000; step++) {
      const lr = 1e-4 * (1 + ((step * 7919) % 5000) / 500); // 5,000 different values, 1e-4 to 1.1e-3
      opt.paramGroups[0].lr = lr;
      p.grad = grad.detach();
      opt.step();
      p.grad.dispose();
      p.grad = null;
      for (let i = 0; i < 4; i++) want[i] = Math.fround(want[i] - Math.fround(Math.fround(lr) * g[i]));
      if (step % 1000 === 999) await wg.sync(); // a few waits, as a loop that logs would have
    }
    const got = [...(await p.data())];
    got.forEach((v, i) => expect(v).toBeCloseTo(want[i], 5));
    opt.dispose();
    [p, grad].forEach((t) => t.dispose());
  });
});
