// SPDX-License-Identifier: MIT
// DataLoader: seeded shuffling, batching, and the GPU transform (crop/flip/normalise) that
// turns a dataset's uint8 images into the float batches a model trains on.
//
// Determinism and resume: nothing here keeps a running random state. Epoch e's order is the
// permutation drawn from Rng(seed, e), and batch b's augmentation from Rng(seed, e, b), so the
// complete state is (seed, epoch, batch) and a resumed run sees exactly the batches, in the
// order and with the crops and flips, that the uninterrupted run saw.
//
// Overlap: a batch costs the host one gather of bytes (N x C x H x W) and one upload; the
// transform is one dispatch recorded in the same command stream as the training step. Nothing
// waits on the GPU, so the host prepares batch b+1 while the GPU still runs step b.

import type { Tensor } from '../tensor/tensor.js';
import { tensor } from '../ops/creation.js';
import { augmentBatch } from '../kernels/augment.js';
import type { ImageDataset } from './dataset.js';
import { Rng } from './rng.js';
import { samplePlacements, type AugmentOptions } from './augment.js';

export interface DataLoaderOptions {
  batchSize: number;
  /** Reshuffle every epoch (default true). */
  shuffle?: boolean;
  /** Drop the last, smaller batch (default false). */
  dropLast?: boolean;
  /** Seed of the shuffling and augmentation streams (default 0). */
  seed?: number;
  /** Random crop / flip (default: none). */
  augment?: AugmentOptions;
  /** Per-channel mean and std on the 0..1 scale, one per output channel or one per stored channel. */
  mean?: readonly number[];
  std?: readonly number[];
  /** The model's input size [height, width] (default: the dataset's). Smaller images are centred with zero padding. */
  outputSize?: [number, number];
  /** The model's input channels (default: the dataset's). A 1-channel dataset can be replicated to 3. */
  outputChannels?: number;
}

/** Where a loader stands: enough to continue exactly. Plain data, JSON-safe. */
export interface LoaderState {
  seed: number;
  epoch: number;
  /** The next batch to produce within the epoch. */
  batch: number;
}

export interface Batch {
  /** (size, C, H, W) float32, normalised. */
  x: Tensor;
  /** (size) int32 class indices. */
  y: Tensor;
  size: number;
  epoch: number;
  /** Index of this batch in its epoch. */
  index: number;
  dispose(): void;
}

export class DataLoader {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly augment: AugmentOptions;
  readonly outputSize: [number, number];
  readonly outputChannels: number;
  readonly mean: number[];
  readonly std: number[];
  private seed: number;
  private epochIndex = 0;
  private batchIndex = 0;
  private order: { epoch: number; perm: Int32Array } | null = null;

  constructor(dataset: ImageDataset, opts: DataLoaderOptions) {
    if (!(Number.isInteger(opts.batchSize) && opts.batchSize > 0)) throw new Error(`DataLoader: batchSize must be a positive integer, got ${opts.batchSize}`);
    this.dataset = dataset;
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.seed = opts.seed ?? 0;
    this.augment = opts.augment ?? {};
    this.outputSize = opts.outputSize ?? [dataset.height, dataset.width];
    this.outputChannels = opts.outputChannels ?? dataset.channels;
    if (this.outputChannels % dataset.channels !== 0) {
      throw new Error(`DataLoader: ${dataset.name} has ${dataset.channels} channel(s); cannot make ${this.outputChannels}`);
    }
    const perChannel = (v: readonly number[] | undefined, fill: number, what: string): number[] => {
      if (!v) return new Array<number>(this.outputChannels).fill(fill);
      if (v.length === this.outputChannels) return [...v];
      if (v.length === dataset.channels || v.length === 1) return Array.from({ length: this.outputChannels }, (_, c) => v[c % v.length]);
      throw new Error(`DataLoader: ${what} has ${v.length} values; expected ${this.outputChannels} (one per channel)`);
    };
    this.mean = perChannel(opts.mean, 0, 'mean');
    this.std = perChannel(opts.std, 1, 'std');
    if (this.length === 0) {
      throw new Error(`DataLoader: ${dataset.name} has ${dataset.length} images: no batch of ${this.batchSize} with dropLast`);
    }
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** Images per epoch (after dropLast). */
  get samplesPerEpoch(): number {
    return this.dropLast ? this.length * this.batchSize : this.dataset.length;
  }

  get epoch(): number {
    return this.epochIndex;
  }

  get position(): number {
    return this.batchIndex;
  }

  state(): LoaderState {
    return { seed: this.seed, epoch: this.epochIndex, batch: this.batchIndex };
  }

  loadState(s: LoaderState): void {
    if (!(s.batch >= 0 && s.batch <= this.length)) throw new Error(`DataLoader.loadState: batch ${s.batch} outside 0..${this.length}`);
    this.seed = s.seed;
    this.epochIndex = s.epoch;
    this.batchIndex = s.batch;
  }

  /** Start epoch `epoch` from its first batch. */
  setEpoch(epoch: number): void {
    this.epochIndex = epoch;
    this.batchIndex = 0;
  }

  /** Sample indices of epoch `epoch`, in the order they are served. */
  indicesFor(epoch: number): Int32Array {
    if (this.order?.epoch === epoch) return this.order.perm;
    const perm = this.shuffle ? Rng.fromSeeds(this.seed, epoch, 1).permutation(this.dataset.length) : Int32Array.from({ length: this.dataset.length }, (_, i) => i);
    this.order = { epoch, perm };
    return perm;
  }

  /** The host-side contents of batch `index` of `epoch`: gathered bytes, labels, placements. */
  hostBatch(epoch: number, index: number): { pixels: Uint8Array; labels: Int32Array; placement: Int32Array } {
    const ds = this.dataset;
    const order = this.indicesFor(epoch);
    const start = index * this.batchSize;
    const size = Math.min(this.batchSize, ds.length - start);
    const per = ds.channels * ds.height * ds.width;
    const pixels = new Uint8Array(size * per);
    const labels = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const j = order[start + i];
      pixels.set(ds.images.subarray(j * per, (j + 1) * per), i * per);
      labels[i] = ds.labels[j];
    }
    const random = this.augment.crop || this.augment.flip ? Rng.fromSeeds(this.seed, epoch, 2, index) : null;
    const geometry = { inHeight: ds.height, inWidth: ds.width, outHeight: this.outputSize[0], outWidth: this.outputSize[1] };
    const placement = samplePlacements(size, geometry, this.augment, random);
    return { pixels, labels, placement };
  }

  /** Batch `index` of `epoch` on the GPU. The caller owns (and must dispose) the tensors. */
  makeBatch(epoch: number, index: number): Batch {
    const ds = this.dataset;
    const { pixels, labels, placement } = this.hostBatch(epoch, index);
    const size = labels.length;
    const x = augmentBatch(
      pixels,
      placement,
      {
        batch: size,
        inChannels: ds.channels,
        inHeight: ds.height,
        inWidth: ds.width,
        outChannels: this.outputChannels,
        outHeight: this.outputSize[0],
        outWidth: this.outputSize[1],
      },
      this.mean,
      this.std,
    );
    const y = tensor(labels, [size], { dtype: 'int32' });
    return {
      x,
      y,
      size,
      epoch,
      index,
      dispose() {
        x.dispose();
        y.dispose();
      },
    };
  }

  /** The next batch of the current epoch (and advance), or null when the epoch is used up. */
  nextBatch(): Batch | null {
    if (this.batchIndex >= this.length) return null;
    return this.makeBatch(this.epochIndex, this.batchIndex++);
  }

  /** Move to the first batch of the next epoch. */
  finishEpoch(): void {
    this.epochIndex++;
    this.batchIndex = 0;
  }

  /**
   * The remaining batches of the current epoch, from `position`; afterwards the loader points
   * at the next epoch's first batch. Dispose each batch when done with it.
   */
  *batches(): Generator<Batch> {
    for (let b = this.nextBatch(); b; b = this.nextBatch()) yield b;
    this.finishEpoch();
  }

  [Symbol.iterator](): Generator<Batch> {
    return this.batches();
  }
}
