// SPDX-License-Identifier: MIT
// Launcher for augment_batch.wgsl: upload a batch of 8-bit images once and produce the
// normalised, cropped, flipped float batch the model eats (see the .wgsl header).

import source from './wgsl/augment_batch.wgsl';
import { defineKernel, launch, grid1d } from './launch.js';
import { Uniforms } from './uniforms.js';
import { emptyTensor, type Tensor } from '../tensor/tensor.js';
import { tensor } from '../ops/creation.js';
import { OpArgumentError } from '../tensor/errors.js';
import type { AugmentDims } from './reference/augment.js';

export type { AugmentDims } from './reference/augment.js';

const augmentKernel = defineKernel('augment_batch', source, ['read', 'read', 'read_write', 'uniform']);
const WG = 256;

/**
 * pixels: (N, C_in, H, W) bytes; placement: (N, 4) int32 = (x0, y0, flip, 0); mean/std: one
 * value per output channel (0..1 scale). Returns a float32 (N, C_out, H_out, W_out) tensor.
 */
export function augmentBatch(pixels: Uint8Array, placement: Int32Array, d: AugmentDims, mean: readonly number[], std: readonly number[]): Tensor {
  const op = 'augmentBatch';
  const inBytes = d.batch * d.inChannels * d.inHeight * d.inWidth;
  if (pixels.length !== inBytes) {
    throw new OpArgumentError(`${op}: ${pixels.length} pixel bytes for a batch of (${d.batch}, ${d.inChannels}, ${d.inHeight}, ${d.inWidth}) (expected ${inBytes})`);
  }
  if (placement.length !== 4 * d.batch) throw new OpArgumentError(`${op}: placement has ${placement.length} values, expected 4 per sample (${4 * d.batch})`);
  if (d.outChannels > 4 || d.outChannels < 1) throw new OpArgumentError(`${op}: at most 4 output channels, got ${d.outChannels}`);
  if (d.outChannels % d.inChannels !== 0) {
    throw new OpArgumentError(`${op}: ${d.inChannels} input channel(s) cannot fill ${d.outChannels} output channels (use 1 -> any, or equal counts)`);
  }
  if (mean.length !== d.outChannels || std.length !== d.outChannels) {
    throw new OpArgumentError(`${op}: mean/std need ${d.outChannels} values (one per output channel), got ${mean.length}/${std.length}`);
  }
  if (std.some((s) => !(s > 0))) throw new OpArgumentError(`${op}: std values must be > 0, got [${std.join(', ')}]`);

  // Pack the bytes 4 to a word (little-endian, as the kernel reads them).
  const words = new Int32Array(Math.max(Math.ceil(inBytes / 4), 1));
  new Uint8Array(words.buffer).set(pixels);
  const pixelTensor = tensor(words, [words.length], { dtype: 'int32' });
  const placeTensor = tensor(placement, [placement.length], { dtype: 'int32' });
  const out = emptyTensor([d.batch, d.outChannels, d.outHeight, d.outWidth], 'float32', op);
  const numel = out.size;
  const vec4 = (v: readonly number[], fill: number) => [0, 1, 2, 3].map((i) => (i < v.length ? v[i] : fill));
  const u = new Uniforms().u32(numel).u32(d.inChannels).u32(d.inHeight).u32(d.inWidth).u32(d.outChannels).u32(d.outHeight).u32(d.outWidth).u32(0);
  for (const m of vec4(mean, 0)) u.f32(m);
  for (const s of vec4(std, 1)) u.f32(1 / s);
  launch(augmentKernel, {
    buffers: [pixelTensor.buffer, placeTensor.buffer, out.buffer],
    params: u.finish(),
    workgroups: grid1d(numel, WG),
    constants: { WG },
    label: op,
  });
  pixelTensor.dispose();
  placeTensor.dispose();
  return out;
}
