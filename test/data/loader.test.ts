import { describe, it, expect } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, expectClose } from '../helpers.js';
import { augmentBatch } from '../../src/kernels/augment.js';
import { augmentBatchRef } from '../../src/kernels/reference/augment.js';
import { makeDataset } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { samplePlacements } from '../../src/data/augment.js';
import { Rng } from '../../src/data/rng.js';
import { loadCifar10, CIFAR10_MEAN, CIFAR10_STD } from '../../src/data/cifar.js';
import { CIFAR10_DIR, HAVE_CIFAR10 } from './paths.js';

useDevice();

// Forward tolerance: the kernel divides by 255 and multiplies by 1/std in f32.
const TOL = 1e-6;

function toyDataset(n: number, c: number, h: number, w: number) {
  const images = Uint8Array.from({ length: n * c * h * w }, (_, i) => (i * 37 + 11) & 0xff);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  return makeDataset({ name: 'toy', images, labels, channels: c, height: h, width: w, classes: ['a', 'b', 'c'] });
}

describe('augment_batch.wgsl', () => {
  it('matches the float64 reference: random pad-4 crop + flip + normalise', async () => {
    const d = { batch: 5, inChannels: 3, inHeight: 8, inWidth: 8, outChannels: 3, outHeight: 8, outWidth: 8 };
    const pixels = toyDataset(5, 3, 8, 8).images;
    const placement = samplePlacements(5, { inHeight: 8, inWidth: 8, outHeight: 8, outWidth: 8 }, { crop: true, pad: 4, flip: true }, Rng.fromSeeds(9));
    const mean = [0.4, 0.5, 0.6];
    const std = [0.2, 0.25, 0.3];
    const x = augmentBatch(pixels, placement, d, mean, std);
    expect(x.shape).toEqual([5, 3, 8, 8]);
    expectClose(await x.data(), augmentBatchRef(pixels, placement, d, mean, std), TOL, 'augment');
    x.dispose();
  });

  it('centres and zero-pads a small gray image into 3 channels (28x28 -> 3x32x32 style)', async () => {
    const d = { batch: 2, inChannels: 1, inHeight: 5, inWidth: 6, outChannels: 3, outHeight: 9, outWidth: 8 };
    const pixels = toyDataset(2, 1, 5, 6).images;
    const placement = samplePlacements(2, { inHeight: 5, inWidth: 6, outHeight: 9, outWidth: 8 }, {}, null);
    expect(Array.from(placement.subarray(0, 3))).toEqual([-1, -2, 0]);
    const x = augmentBatch(pixels, placement, d, [0.1, 0.1, 0.1], [0.3, 0.3, 0.3]);
    const got = await x.data();
    expectClose(got, augmentBatchRef(pixels, placement, d, [0.1, 0.1, 0.1], [0.3, 0.3, 0.3]), TOL, 'gray');
    expect(got[0]).toBeCloseTo(-0.1 / 0.3, 6); // padding
    x.dispose();
  });

  it('rejects bad arguments before dispatch', () => {
    const d = { batch: 1, inChannels: 3, inHeight: 2, inWidth: 2, outChannels: 3, outHeight: 2, outWidth: 2 };
    expect(() => augmentBatch(new Uint8Array(5), new Int32Array(4), d, [0, 0, 0], [1, 1, 1])).toThrow(/augmentBatch: 5 pixel bytes for a batch of \(1, 3, 2, 2\) \(expected 12\)/);
    expect(() => augmentBatch(new Uint8Array(12), new Int32Array(4), d, [0], [1])).toThrow(/mean\/std need 3 values/);
    expect(() => augmentBatch(new Uint8Array(12), new Int32Array(4), { ...d, outChannels: 2 }, [0, 0], [1, 1])).toThrow(/cannot fill 2 output channels/);
  });
});

describe('DataLoader', () => {
  it('batches a seeded permutation, drops or keeps the tail, labels as int32', async () => {
    const ds = toyDataset(10, 1, 2, 2);
    const keep = new DataLoader(ds, { batchSize: 4, seed: 3 });
    const drop = new DataLoader(ds, { batchSize: 4, seed: 3, dropLast: true });
    expect([keep.length, drop.length, drop.samplesPerEpoch]).toEqual([3, 2, 8]);
    const sizes: number[] = [];
    const seen: number[] = [];
    const order = keep.indicesFor(0);
    for (const b of keep) {
      sizes.push(b.size);
      expect(b.y.dtype).toBe('int32');
      seen.push(...(await b.y.data()));
      b.dispose();
    }
    expect(sizes).toEqual([4, 4, 2]);
    expect(seen).toEqual(Array.from(order, (i) => ds.labels[i]));
    expect(keep.epoch).toBe(1);
    expect(Array.from(keep.indicesFor(1))).not.toEqual(Array.from(order)); // reshuffled
    expect(Array.from(new DataLoader(ds, { batchSize: 4, seed: 3 }).indicesFor(0))).toEqual(Array.from(order));
    expect(Array.from(new DataLoader(ds, { batchSize: 4, shuffle: false }).indicesFor(0))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('resumes mid-epoch with identical batches (order, crops, flips)', async () => {
    const ds = toyDataset(12, 3, 6, 6);
    const opts = { batchSize: 5, seed: 11, augment: { crop: true, pad: 2, flip: true } };
    const a = new DataLoader(ds, opts);
    const all: Float32Array[] = [];
    for (let e = 0; e < 2; e++) {
      for (const b of a) {
        all.push((await b.x.data()) as Float32Array);
        b.dispose();
      }
    }
    const b = new DataLoader(ds, { ...opts, seed: 0 });
    b.loadState(JSON.parse(JSON.stringify({ seed: 11, epoch: 1, batch: 1 })));
    const rest: Float32Array[] = [];
    for (const batch of b) {
      rest.push((await batch.x.data()) as Float32Array);
      batch.dispose();
    }
    expect(rest).toEqual(all.slice(4));
    expect(b.state()).toEqual({ seed: 11, epoch: 2, batch: 0 });
  });

  it('keeps GPU memory flat over many batches', () => {
    const ds = toyDataset(64, 3, 8, 8);
    const loader = new DataLoader(ds, { batchSize: 8, augment: { crop: true, flip: true } });
    const before = wg.memory();
    for (let e = 0; e < 3; e++) for (const b of loader) b.dispose();
    const after = wg.memory();
    expect(after.liveTensors).toBe(before.liveTensors);
    expect(after.liveBytes).toBe(before.liveBytes);
  });

  it.skipIf(!HAVE_CIFAR10)('normalises the CIFAR-10 dev subset to roughly zero mean, unit std', async () => {
    const ds = await loadCifar10({ dataDir: CIFAR10_DIR, split: 'test' });
    const loader = new DataLoader(ds, { batchSize: 500, shuffle: false, mean: CIFAR10_MEAN, std: CIFAR10_STD });
    const b = loader.makeBatch(0, 0);
    const x = await b.x.data();
    b.dispose();
    let s = 0;
    let s2 = 0;
    for (const v of x) {
      s += v;
      s2 += v * v;
    }
    const mean = s / x.length;
    expect(Math.abs(mean)).toBeLessThan(0.1);
    expect(Math.abs(Math.sqrt(s2 / x.length - mean * mean) - 1)).toBeLessThan(0.1);
  });
});
