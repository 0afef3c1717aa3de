// SPDX-License-Identifier: MIT
// Launcher for random.wgsl, and the global generator state (seed + stream offset).

import source from './wgsl/random.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import type { Shape } from '../tensor/shape.js';

const randomKernel = defineKernel('random', source, ['read_write', 'uniform']);
const WG = 64;

export const Distribution = { uniform: 0, normal: 1, dropoutMask: 2 } as const;

/** The default generator: a seed and a counter of calls (each call uses a fresh stream). */
const generator = { seed: 0x5eed, offset: 0 };

/** Seed the default generator (like torch.manual_seed). */
export function manualSeed(seed: number): void {
  generator.seed = seed >>> 0;
  generator.offset = 0;
}

/** Generator state, for checkpoints; restore with setRngState. */
export function getRngState(): { seed: number; offset: number } {
  return { ...generator };
}

export function setRngState(state: { seed: number; offset: number }): void {
  generator.seed = state.seed >>> 0;
  generator.offset = state.offset >>> 0;
}

/**
 * Fill a new tensor from the distribution. With `seed`, the stream is (seed, 0) and the call is
 * reproducible on its own; without, the default generator's next stream is used.
 */
export function randomTensor(shape: Shape, dist: keyof typeof Distribution, a: number, b: number, seed?: number): Tensor {
  const out = emptyTensor(shape, 'float32', dist);
  const n = out.size;
  const useSeed = seed ?? generator.seed;
  const offset = seed === undefined ? generator.offset++ : 0;
  const params = new Uniforms()
    .u32(n).u32(useSeed >>> 0).u32(Math.floor(useSeed / 2 ** 32) >>> 0).u32(offset)
    .f32(a).f32(b).u32(0).u32(0)
    .finish();
  launch(randomKernel, {
    buffers: [out.buffer],
    params,
    workgroups: grid1d(Math.ceil(n / 4), WG),
    constants: { DIST: Distribution[dist], WG },
    label: dist,
  });
  return out;
}
