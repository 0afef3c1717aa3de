// SPDX-License-Identifier: MIT
// An in-memory image dataset: every image as 8-bit pixels, planar (N, C, H, W), plus int labels.
//
// Keeping uint8 on the host (CIFAR-10's 50,000 training images are 150 MB) and converting to
// float on the GPU (src/kernels/augment.ts) is 4x less memory and 4x less upload than floats.

import { DatasetError } from './errors.js';

export interface ImageDataset {
  /** e.g. 'cifar10/train'. */
  readonly name: string;
  /** (length, channels, height, width) pixels, row-major, 0..255. */
  readonly images: Uint8Array;
  /** (length) class indices in 0..classes.length-1. */
  readonly labels: Int32Array;
  readonly length: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Class names, index = label. */
  readonly classes: readonly string[];
  /** Anything unusual found while reading (a record count that differs from the standard, ...). */
  readonly notes: readonly string[];
}

export function makeDataset(fields: Omit<ImageDataset, 'length' | 'notes'> & { notes?: string[] }): ImageDataset {
  const length = fields.labels.length;
  const per = fields.channels * fields.height * fields.width;
  if (fields.images.length !== length * per) {
    throw new DatasetError(
      `wgslgrad.data: ${fields.name}: ${fields.images.length} pixel bytes do not make ${length} images of ` +
        `${fields.channels}x${fields.height}x${fields.width} (expected ${length * per})`,
    );
  }
  for (let i = 0; i < length; i++) {
    const l = fields.labels[i];
    if (l < 0 || l >= fields.classes.length) {
      throw new DatasetError(`wgslgrad.data: ${fields.name}: record ${i} has label ${l}, outside 0..${fields.classes.length - 1} (a corrupt file?)`);
    }
  }
  return { ...fields, length, notes: fields.notes ?? [] };
}

/** The images at `indices`, in that order, as a new dataset. */
export function subset(ds: ImageDataset, indices: ArrayLike<number>, name = `${ds.name}[subset]`): ImageDataset {
  const per = ds.channels * ds.height * ds.width;
  const images = new Uint8Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!(j >= 0 && j < ds.length)) throw new Error(`wgslgrad.data: subset of ${ds.name}: index ${j} outside 0..${ds.length - 1}`);
    images.set(ds.images.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = ds.labels[j];
  }
  return { ...ds, name, images, labels, length: indices.length };
}

/** Count of images per class. */
export function classCounts(ds: ImageDataset): number[] {
  const counts = new Array<number>(ds.classes.length).fill(0);
  for (const l of ds.labels) counts[l]++;
  return counts;
}

/** Per-channel mean and standard deviation of the pixels, on the 0..1 scale. */
export function channelStats(ds: ImageDataset): { mean: number[]; std: number[] } {
  const hw = ds.height * ds.width;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < ds.channels; c++) {
    let s = 0;
    let s2 = 0;
    for (let n = 0; n < ds.length; n++) {
      const base = (n * ds.channels + c) * hw;
      for (let i = 0; i < hw; i++) {
        const v = ds.images[base + i] / 255;
        s += v;
        s2 += v * v;
      }
    }
    const count = Math.max(ds.length * hw, 1);
    const m = s / count;
    mean.push(m);
    std.push(Math.sqrt(Math.max(s2 / count - m * m, 0)));
  }
  return { mean, std };
}
