// GPU faults surface as typed errors, never as hangs, crashes, silent CPU fallbacks or a stray
// validation error at some later sync:
//   - a tensor too large for the device: GpuOutOfMemoryError naming the op and the size, raised
//     when the op allocates, before anything is dispatched;
//   - a lost device: the next op / readback rejects with DeviceLostError, and init() afterwards
//     gives a working device with a fresh command queue, buffer pool and pipeline cache;
//   - a WGSL kernel that does not compile: ShaderCompilationError with `file.wgsl:line:col`.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as wg from '../../src/index.js';
import { gpu } from '../../src/tensor/device.js';
import { commands } from '../../src/tensor/queue.js';
import { defineKernel, launch, pipelineStats } from '../../src/kernels/launch.js';
import { emptyTensor } from '../../src/tensor/tensor.js';

beforeAll(async () => {
  await wg.init();
});
afterAll(async () => {
  await wg.close();
});

/** The largest tensor (in bytes) a kernel can bind on this device. */
function bindLimit(): number {
  const l = gpu().device.limits;
  return Math.min(l.maxBufferSize, l.maxStorageBufferBindingSize);
}

describe('out of memory', () => {
  it('a tensor larger than maxBufferSize: GpuOutOfMemoryError naming the op and the size, nothing dispatched', async () => {
    const elements = Math.floor(gpu().device.limits.maxBufferSize / 4) + 16;
    const before = wg.memory();
    let err: unknown;
    try {
      wg.zeros([elements]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(wg.GpuOutOfMemoryError);
    expect((err as Error).message).toMatch(/fill/); // zeros() runs the fill kernel
    expect((err as Error).message).toContain(`${elements * 4}-byte`);
    expect(commands().pending).toBe(false);
    expect(wg.memory().liveBuffers).toBe(before.liveBuffers);
    await wg.sync(); // no GPU error left behind
  });

  it('an op whose output is too large: the op is named, its inputs survive, the next sync is clean', async () => {
    const side = Math.ceil(Math.sqrt(bindLimit() / 4)) + 8; // (side x side) float32 just over the limit
    const a = wg.ones([side, 1]);
    const b = wg.ones([1, side]);
    await wg.sync();
    const before = wg.memory();
    for (const [name, f] of [
      ['matmul', () => wg.matmul(a, b)],
      ['add', () => wg.add(a, b)],
      ['contiguous', () => a.expand([side, side]).contiguous()],
    ] as const) {
      let err: unknown;
      wg.scope(() => {
        try {
          f();
        } catch (e) {
          err = e;
        }
      });
      expect(err, name).toBeInstanceOf(wg.GpuOutOfMemoryError);
      expect((err as Error).message).toMatch(new RegExp(`^wgslgrad: GPU out of memory: ${name} needs a ${side * side * 4}-byte buffer`));
      expect(commands().pending, name).toBe(false);
    }
    expect(wg.memory().liveBuffers).toBe(before.liveBuffers);
    await wg.sync();
    expect(Array.from(await wg.matmul(b.slice(1, 0, 3), a.slice(0, 0, 3)).data())).toEqual([3]);
    a.dispose();
    b.dispose();
  });

  it('the limit is the storage binding size, not only maxBufferSize (whole buffers are bound)', () => {
    const limit = bindLimit();
    // Exactly at the limit is allowed (no size-class rounding past it) ...
    const t = emptyTensor([limit / 4], 'float32', 'at_limit');
    expect(t.buffer.size).toBeLessThanOrEqual(limit);
    t.dispose();
    // ... one element more is not.
    expect(() => emptyTensor([limit / 4 + 1], 'float32', 'over_limit')).toThrow(/over_limit needs a \d+-byte buffer .* at most \d+ bytes/);
    wg.emptyCache();
  });
});

describe('shader compilation', () => {
  const BROKEN = [
    '// a throwaway kernel with a type error on line 4',
    '@group(0) @binding(0) var<storage, read_write> y: array<f32>;',
    '@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {',
    '  y[gid.x] = vec2<f32>(1.0, 2.0);',
    '}',
  ].join('\n');

  it('a WGSL kernel that fails to compile: ShaderCompilationError with file.wgsl:line:col at the next sync', async () => {
    const kernel = defineKernel('broken_for_test', BROKEN, ['read_write']);
    const out = emptyTensor([64], 'float32', 'broken_for_test');
    launch(kernel, { buffers: [out.buffer], workgroups: [1], label: 'broken_for_test' });
    const err = await wg.sync().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(wg.ShaderCompilationError);
    expect((err as Error).message).toMatch(/broken_for_test\.wgsl:4:\d+: error: /);
    // Reported once; the device is still usable.
    await wg.sync();
    expect(Array.from(await wg.ones([2]).add(1).data())).toEqual([2, 2]);
    // Nothing was computed in its place: the output is not filled with a CPU result.
    out.dispose();
  });

  it('a pipeline that fails to build (unknown entry point) is a ShaderCompilationError too', async () => {
    const ok = BROKEN.replace('vec2<f32>(1.0, 2.0)', '1.0');
    const kernel = defineKernel('no_such_entry', ok, ['read_write'], 'does_not_exist');
    const out = emptyTensor([64], 'float32', 'no_such_entry');
    launch(kernel, { buffers: [out.buffer], workgroups: [1] });
    const err = await wg.sync().then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(wg.ShaderCompilationError);
    expect((err as Error).message).toMatch(/kernel no_such_entry\.wgsl \(no constants\) failed to build/);
    out.dispose();
    await wg.sync();
    expect(Array.from(await wg.ones([1]).mul(5).data())).toEqual([5]);
  });

  it('the library never falls back to the CPU: no source file outside the references imports them', () => {
    const root = fileURLToPath(new URL('../../src', import.meta.url));
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const f of readdirSync(dir)) {
        const p = join(dir, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts') && !p.includes(`${join('kernels', 'reference')}`)) {
          for (const line of readFileSync(p, 'utf8').split('\n')) {
            if (/^\s*import\s+(?!type\b).*reference\//.test(line)) offenders.push(`${p}: ${line.trim()}`);
          }
        }
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});

describe('device loss', () => {
  it('the next op rejects with DeviceLostError (not a hang, not a crash) and init() recovers', async () => {
    const a = wg.tensor([1, 2, 3, 4]);
    expect(Array.from(await a.data())).toEqual([1, 2, 3, 4]);
    const oldQueue = commands();
    gpu().device.destroy();
    // Immediately, before device.lost has resolved: the op records, the readback rejects.
    await expect((async () => a.add(1).data())()).rejects.toThrow(wg.DeviceLostError);
    // Later: ops throw it directly, and so does reading a tensor back.
    expect(() => a.mul(2)).toThrow(wg.DeviceLostError);
    await expect(a.data()).rejects.toThrow(/the GPU device was lost \(destroyed\)/);
    await expect(wg.sync()).rejects.toThrow(wg.DeviceLostError);
    a.dispose(); // disposing after the loss is harmless

    await wg.init();
    // A fresh queue, pool and pipeline cache: the new device computes correctly ...
    expect(commands()).not.toBe(oldQueue);
    const before = pipelineStats().kernels;
    const b = wg.tensor([1, 2, 3]).mul(2).sum();
    expect(await b.item()).toBe(12);
    expect(pipelineStats().kernels).toBeLessThanOrEqual(before + 3);
    await wg.sync();
    b.dispose();
  });

  it('a readback in flight when the device goes: rejects with DeviceLostError', async () => {
    await wg.init();
    const x = wg.randn([256, 256], { seed: 3 });
    const y = x.matmul(x);
    const pending = y.data();
    gpu().device.destroy();
    await expect(pending).rejects.toThrow(wg.DeviceLostError);
    await wg.init();
    expect(await wg.ones([3]).sum().item()).toBe(3);
  });

  it('tensors of the lost device cannot be used with the new one (DeviceLostError naming the op)', async () => {
    await wg.init();
    const old = wg.ones([4]);
    await old.data();
    gpu().device.destroy();
    await new Promise((r) => setTimeout(r, 10));
    await wg.init();
    const fresh = wg.ones([4]);
    expect(() => wg.add(fresh, old)).toThrow(wg.DeviceLostError);
    expect(() => wg.add(fresh, old)).toThrow(/^wgslgrad: add: input \[4\] float32 was created on a GPU device that has since been lost/);
    await expect(old.data()).rejects.toThrow(wg.DeviceLostError);
    await wg.sync(); // nothing invalid reached the new device
    expect(Array.from(await fresh.add(fresh).data())).toEqual([2, 2, 2, 2]);
    // Live counters describe the new device only.
    fresh.dispose();
    old.dispose();
  });

  it('close() then init() works, and the memory counters start over', async () => {
    await wg.close();
    await wg.init();
    const m0 = wg.memory();
    expect(m0.liveBuffers).toBe(0);
    const t = wg.ones([8]).add(1);
    expect(await t.sum().item()).toBe(16);
  });
});
