// SPDX-License-Identifier: MIT
// Host side of the augmentation: where each sample's output window sits in its image, and
// whether it is flipped. The pixels themselves are moved on the GPU (augment_batch.wgsl).
//
// torchvision's CIFAR recipe, RandomCrop(32, padding=4) + RandomHorizontalFlip(), becomes:
//   top  = rng.int(H + 2P - H_out + 1) - P       (y0: the window's first source row)
//   left = rng.int(W + 2P - W_out + 1) - P       (x0)
//   flip = rng.nextFloat() < 0.5
// Without random crop the window is centred: y0 = floor((H - H_out) / 2) (negative = zero pad).

import type { Rng } from './rng.js';

export interface AugmentOptions {
  /** Random crop after zero-padding each side by `pad` pixels (default false). */
  crop?: boolean;
  /** Padding for the random crop (default 4). */
  pad?: number;
  /** Random horizontal flip with probability 1/2 (default false; wrong for digits and text). */
  flip?: boolean;
}

export interface Geometry {
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
}

/** (x0, y0, flip, 0) for `count` samples, drawn from `rng` in sample order (y, x, flip). */
export function samplePlacements(count: number, g: Geometry, aug: AugmentOptions, rng: Rng | null): Int32Array {
  const out = new Int32Array(4 * count);
  const pad = aug.pad ?? 4;
  const centreY = Math.floor((g.inHeight - g.outHeight) / 2);
  const centreX = Math.floor((g.inWidth - g.outWidth) / 2);
  const rangeY = g.inHeight + 2 * pad - g.outHeight + 1;
  const rangeX = g.inWidth + 2 * pad - g.outWidth + 1;
  if (aug.crop && (rangeY < 1 || rangeX < 1)) {
    throw new Error(
      `wgslgrad.data: a random ${g.outHeight}x${g.outWidth} crop does not fit in a ${g.inHeight}x${g.inWidth} image padded by ${pad}`,
    );
  }
  for (let i = 0; i < count; i++) {
    let y0 = centreY;
    let x0 = centreX;
    let flip = 0;
    if (rng && aug.crop) {
      y0 = rng.int(rangeY) - pad;
      x0 = rng.int(rangeX) - pad;
    }
    if (rng && aug.flip) flip = rng.nextFloat() < 0.5 ? 1 : 0;
    out[4 * i] = x0;
    out[4 * i + 1] = y0;
    out[4 * i + 2] = flip;
  }
  return out;
}
