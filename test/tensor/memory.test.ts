// Ownership: scopes, dispose, pooled buffers, counters.
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice } from '../helpers.js';
import { sizeClass, BufferPool } from '../../src/tensor/buffer-pool.js';
import { UniformSlots, UNIFORM_ALIGN } from '../../src/tensor/uniform-slots.js';
import { setBatchRulesFor } from '../../src/tensor/queue.js';

useDevice();

describe('memory', () => {
  it('scope frees everything created inside except the result', async () => {
    const before = wg.memory().liveTensors;
    const kept = wg.scope(() => {
      const a = wg.ones([100]);
      const b = a.mul(2).add(1);
      return { b, list: [a.sum()] };
    });
    expect(wg.memory().liveTensors).toBe(before + 2);
    expect(Array.from(await kept.b.data()).slice(0, 2)).toEqual([3, 3]);
    kept.b.dispose();
    kept.list[0].dispose();
    expect(wg.memory().liveTensors).toBe(before);
  });

  it('nested scopes hand results to the parent', () => {
    const before = wg.memory().liveTensors;
    wg.scope(() => {
      const inner = wg.scope(() => wg.ones([4]).add(1));
      expect(inner.isDisposed).toBe(false);
    });
    expect(wg.memory().liveTensors).toBe(before);
  });

  it('scope rejects async functions', () => {
    expect(() => wg.scope(async () => 1 as unknown as never)).toThrow(/Promise/);
  });

  it('a steady loop reuses pooled buffers: no new GPU buffers after warm-up', async () => {
    const x = wg.randn([64, 64], { seed: 1 });
    const step = () => wg.scope(() => { x.matmul(x).relu().sum(); });
    step();
    await wg.sync();
    const created = wg.memory().created;
    const live = wg.memory().liveBytes;
    for (let i = 0; i < 20; i++) step();
    await wg.sync();
    expect(wg.memory().created).toBe(created);
    expect(wg.memory().liveBytes).toBe(live);
    x.dispose();
  });

  it('the pool hands out the oldest free buffer, whatever order buffers were freed in', () => {
    let created = 0;
    const device = { createBuffer: ({ size }: { size: number }) => ({ size, id: created++ }) } as unknown as GPUDevice;
    const pool = new BufferPool(device, 1 << 20);
    const [a, b, c] = [0, 1, 2].map(() => pool.acquire(1000, 't'));
    for (const order of [[a, b, c], [c, a, b], [b, c, a]]) {
      for (const buffer of order) pool.release(buffer);
      const handed = [0, 1, 2].map(() => pool.acquire(1000, 't'));
      expect(handed.map((buffer) => (buffer as unknown as { id: number }).id)).toEqual([0, 1, 2]);
    }
  });

  it('near the binding limit a buffer is the request rounded up to whole vec4s, never past the limit', () => {
    const device = { createBuffer: ({ size }: { size: number }) => ({ size }) } as unknown as GPUDevice;
    const pool = new BufferPool(device, 1_000_000 - 4);   // a limit that is no multiple of 16
    // 999,980 bytes: the size class (1 MiB) is past the limit; 999,984 holds the last vec4 whole.
    expect((pool.acquire(999_980, 't') as unknown as { size: number }).size).toBe(999_984);
    // 999,988 bytes fit the limit, but their whole vec4s (1,000,000) do not.
    expect(() => pool.acquire(999_988, 't')).toThrow(/needs a 999988-byte buffer .*1000000 bytes as whole 16-byte vec4s.* at most 999996 bytes/);
  });

  /**
   * Bind groups hit and missed over `steps` steps; if any missed, once more over as many steps.
   * A one-off change of the pool between two steps -- a tensor that an earlier test let go of,
   * garbage-collected (tensor.ts's FinalizationRegistry) in the middle of the window, returns its
   * older buffer to the pool, which then hands it out first -- makes one step miss some bind
   * groups (the full suite did, once: 9 of ~400); a step that is not reproducible misses in
   * every window, so the second window is the one that must not miss.
   */
  async function bindGroupsOver(steps: number, runSteps: (n: number) => Promise<void>): Promise<{ hits: number; misses: number }> {
    for (let window = 0; ; window++) {
      const before = wg.pipelineStats();
      await runSteps(steps);
      const after = wg.pipelineStats();
      const counts = { hits: after.bindGroupHits - before.bindGroupHits, misses: after.bindGroupMisses - before.bindGroupMisses };
      if (counts.misses === 0 || window === 1) return counts;
    }
  }

  it('a training step is handed the same buffers every step: every bind group is cached after two', async () => {
    const model = wg.models.cifarResnet(8, { shortcut: 'A', numClasses: 10 });
    const opt = new wg.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
    const x = wg.randn([2, 3, 8, 8], { seed: 3 });
    const labels = wg.tensor(new Int32Array([1, 7]));
    // zeroGrad frees the last step's gradients while this step runs: with a plain stack of free
    // buffers the step was handed a rotation of last step's buffers, and most bind groups missed.
    const step = () => wg.scope(() => { opt.zeroGrad(); wg.F.crossEntropy(model.forward(x) as wg.Tensor, labels).backward(); opt.step(); });
    for (let i = 0; i < 2; i++) { step(); await wg.sync(); }
    const { hits, misses } = await bindGroupsOver(3, async (n) => { for (let i = 0; i < n; i++) { step(); await wg.sync(); } });
    expect(hits).toBeGreaterThan(3 * 30);
    expect(misses).toBe(0);
    for (const t of [x, labels]) t.dispose();
    model.dispose();
  });

  for (const [fused, batches] of [[false, 'cpu'], [true, 'cpu'], [false, 'gpu'], [true, 'gpu']] as const) {
    it(`steps run back to back, not waited for, find their bind groups too (fused ${fused}, ${batches} batches)`, async () => {
      // Batches then break at different dispatches every step. Parameter structs keep their slot
      // of the uniform buffer by content (uniform-slots.ts); when each batch packed its structs
      // from offset 0, ~80% of these dispatches created a bind group.
      const oldRules = setBatchRulesFor(batches);
      const model = wg.models.cifarResnet(8, { shortcut: 'A', numClasses: 10 });
      const opt = new wg.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9, fused });
      const x = wg.randn([2, 3, 8, 8], { seed: 3 });
      const labels = wg.tensor(new Int32Array([1, 7]));
      const step = () => wg.scope(() => { opt.zeroGrad(); wg.F.crossEntropy(model.forward(x) as wg.Tensor, labels).backward(); opt.step(); });
      try {
        for (let i = 0; i < 3; i++) step();
        await wg.sync();
        const { hits, misses } = await bindGroupsOver(5, async (n) => { for (let i = 0; i < n; i++) step(); await wg.sync(); });
        expect(hits).toBeGreaterThan(5 * 30);
        expect(misses).toBe(0);
      } finally {
        setBatchRulesFor(oldRules);
        for (const t of [x, labels]) t.dispose();
        opt.dispose();
        model.dispose();
      }
    });
  }

  it('uniform slots: a struct keeps its slot; new contents take new slots until the buffer is full', () => {
    const slots = new UniformSlots(4 * UNIFORM_ALIGN);
    const struct = (...v: number[]) => new Uint8Array(new Uint32Array(v).buffer);
    const a = slots.slot(struct(1, 2, 3, 4));
    const b = slots.slot(struct(1, 2, 3, 5));
    const c = slots.slot(struct(1, 2, 3, 4, 0, 0, 0, 0)); // same prefix, longer: another struct
    expect([a, b, c]).toEqual([0, UNIFORM_ALIGN, 2 * UNIFORM_ALIGN]);
    expect(slots.slot(struct(1, 2, 3, 4))).toBe(a);
    expect(slots.takeDirty()).toEqual([0, 3 * UNIFORM_ALIGN]); // whole slots
    expect(slots.takeDirty()).toBeNull(); // uploaded: nothing new
    expect(slots.slot(struct(9))).toBe(3 * UNIFORM_ALIGN);
    expect(slots.takeDirty()).toEqual([3 * UNIFORM_ALIGN, 4 * UNIFORM_ALIGN]);
    expect(slots.slot(struct(10))).toBe(-1); // full
    expect(slots.slot(struct(1, 2, 3, 5))).toBe(b); // a struct it holds is still found
    slots.reset();
    expect(slots.slot(struct(10))).toBe(0);
    expect([...slots.host.slice(0, 4)]).toEqual([10, 0, 0, 0]);
  });

  it('views share storage; the buffer is freed with the last view', () => {
    const before = wg.memory().liveBuffers;
    const a = wg.zeros([6]);
    const v = a.reshape([2, 3]);
    a.dispose();
    expect(wg.memory().liveBuffers).toBe(before + 1);
    v.dispose();
    expect(wg.memory().liveBuffers).toBe(before);
  });

  it('use after dispose is a clear error; dispose twice is harmless', () => {
    const a = wg.ones([2]);
    a.dispose();
    a.dispose();
    expect(() => a.add(a)).toThrow(/add: input \[2\] float32 was disposed/);
  });

  it('size classes: geometric with <= 1/8 slack', () => {
    expect(sizeClass(1)).toBe(256);
    expect(sizeClass(1000)).toBe(1024);
    for (const n of [3000, 12345, 1e6, 7.3e7]) {
      expect(sizeClass(n)).toBeGreaterThanOrEqual(n);
      expect(sizeClass(n) / n).toBeLessThan(1.126);
    }
  });
});
