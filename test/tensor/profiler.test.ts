// wg.profile: per-label GPU time from timestamp queries (skipped where the adapter has none).
import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { gpu } from '../../src/tensor/device.js';
import { useDevice } from '../helpers.js';

useDevice();

describe('profile', () => {
  it('sums GPU time and dispatch counts per label, then leaves the queue untimed', async (ctx) => {
    if (!gpu().hasTimestamps) ctx.skip();
    const a = wg.randn([128, 128]);
    const b = wg.randn([128, 128]);
    await a.data(); // creation work happens before profiling
    const rows = await wg.profile(async () => {
      const c = wg.matmul(a, b);
      const d = wg.matmul(c, b);
      const e = wg.add(d, 1);
      await e.data();
      for (const t of [c, d, e]) t.dispose();
    });
    const matmul = rows.find((r) => r.label === 'matmul');
    expect(matmul?.count).toBe(2);
    expect(matmul!.ms).toBeGreaterThan(0);
    expect(rows.every((r) => r.ms >= 0 && r.count >= 1)).toBe(true);
    expect(rows.map((r) => r.ms)).toEqual([...rows.map((r) => r.ms)].sort((x, y) => y - x));
    // nothing recorded outside: a second profile of no work is empty
    expect(await wg.profile(() => {})).toEqual([]);
    a.dispose();
    b.dispose();
  });

  it('byKernel names the kernel and entry point each op ran', async (ctx) => {
    if (!gpu().hasTimestamps) ctx.skip();
    const x = wg.randn([2, 8, 12, 12]);
    const w = wg.randn([16, 8, 3, 3]);
    await x.data();
    const work = () => wg.F.conv2d(x, w, null, { padding: 1 }).dispose();
    const perOp = await wg.profile(work);
    const perKernel = await wg.profile(work, { byKernel: true });
    const ops = (rows: wg.ProfileEntry[]) => {
      const counts = new Map<string, number>(); // dispatches per op, whichever kernels ran them
      for (const r of rows) counts.set(r.label.replace(/ \[.*\]$/, ''), (counts.get(r.label.replace(/ \[.*\]$/, '')) ?? 0) + r.count);
      return [...counts].sort();
    };
    expect(ops(perKernel)).toEqual(ops(perOp));
    for (const r of perKernel) expect(r.label).toMatch(/^[^[\]]+( \[[\w:]+\])?$/);
    x.dispose();
    w.dispose();
  });

  it('does not nest', async (ctx) => {
    if (!gpu().hasTimestamps) ctx.skip();
    await expect(wg.profile(() => wg.profile(() => {}))).rejects.toThrow(/nest/);
    // and the queue still works afterwards
    const x = wg.ones([4]);
    expect([...(await x.data())]).toEqual([1, 1, 1, 1]);
    x.dispose();
  });
});
