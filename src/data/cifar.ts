// SPDX-License-Identifier: MIT
// CIFAR-10 and CIFAR-100 in their official binary formats.
//
// CIFAR-10 record: 1 label byte (0..9), then 3072 pixel bytes (1024 red, 1024 green, 1024 blue,
// each a 32x32 image in row-major order) = 3073 bytes. Files: data_batch_1..5.bin (10,000
// records each), test_batch.bin (10,000), batches.meta.txt (class names).
// CIFAR-100 record: 1 coarse label byte (0..19), 1 fine label byte (0..99), 3072 pixel bytes =
// 3074 bytes. Files: train.bin (50,000), test.bin (10,000), fine_label_names.txt,
// coarse_label_names.txt.
//
// The pixel layout is already planar (C, H, W), so the images are one copy of the pixel bytes.

import { makeDataset, type ImageDataset } from './dataset.js';
import { DatasetError } from './errors.js';
import { fsModule, pathModule } from './node.js';
import { CIFAR10_ARCHIVE, CIFAR100_ARCHIVE, ensureDataset, type ArchiveSpec, type DownloadOptions } from './download.js';

const PIXELS = 3 * 32 * 32;

export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

export const CIFAR100_COARSE_CLASSES = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables', 'household_electrical_devices',
  'household_furniture', 'insects', 'large_carnivores', 'large_man-made_outdoor_things', 'large_natural_outdoor_scenes',
  'large_omnivores_and_herbivores', 'medium_mammals', 'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals',
  'trees', 'vehicles_1', 'vehicles_2',
];

export const CIFAR100_FINE_CLASSES = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle', 'bowl', 'boy',
  'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle', 'chair', 'chimpanzee', 'clock',
  'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur', 'dolphin', 'elephant', 'flatfish', 'forest',
  'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard', 'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard',
  'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain', 'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid',
  'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree', 'plain', 'plate', 'poppy', 'porcupine', 'possum',
  'rabbit', 'raccoon', 'ray', 'road', 'rocket', 'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper',
  'snail', 'snake', 'spider', 'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone',
  'television', 'tiger', 'tractor', 'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf',
  'woman', 'worm',
];

export interface CifarRecordFormat {
  /** Label bytes before the pixels: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  labelBytes: 1 | 2;
  /** Which of the label bytes is the label. */
  labelIndex: 0 | 1;
}

/** Parse records from one file's bytes. `file` names the source in error messages. */
export function parseCifarRecords(bytes: Uint8Array, format: CifarRecordFormat, file = 'CIFAR data'): { images: Uint8Array; labels: Int32Array } {
  const recordBytes = format.labelBytes + PIXELS;
  if (bytes.length === 0) throw new DatasetError(`wgslgrad.data: ${file} is empty (an interrupted download or extraction?)`);
  if (bytes.length % recordBytes !== 0) {
    throw new DatasetError(
      `wgslgrad.data: ${file} has ${bytes.length} bytes, not a multiple of the ${recordBytes}-byte record ` +
        `(${format.labelBytes} label byte${format.labelBytes > 1 ? 's' : ''} + 3072 pixels): is it a ${format.labelBytes === 1 ? 'CIFAR-10' : 'CIFAR-100'} binary file, complete?`,
    );
  }
  const count = bytes.length / recordBytes;
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const start = i * recordBytes;
    labels[i] = bytes[start + format.labelIndex];
    images.set(bytes.subarray(start + format.labelBytes, start + recordBytes), i * PIXELS);
  }
  return { images, labels };
}

export interface CifarOptions extends DownloadOptions {
  /** 'train' (default) or 'test'. */
  split?: 'train' | 'test';
  /**
   * Directory with the official binary files (or the directory holding the unpacked
   * `cifar-10-batches-bin/` / `cifar-100-binary/`). Without it the official archive is
   * downloaded once into the cache directory.
   */
  dataDir?: string;
  /** Override the archive address / checksum (mirrors, tests). */
  archive?: ArchiveSpec;
}

interface Variant {
  id: string;
  archive: ArchiveSpec;
  format: CifarRecordFormat;
  trainFiles: string[];
  testFiles: string[];
  standard: { train: number; test: number };
  metaFile: string;
  defaultClasses: string[];
}

const CIFAR10: Variant = {
  id: 'cifar10',
  archive: CIFAR10_ARCHIVE,
  format: { labelBytes: 1, labelIndex: 0 },
  trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  testFiles: ['test_batch.bin'],
  standard: { train: 50000, test: 10000 },
  metaFile: 'batches.meta.txt',
  defaultClasses: CIFAR10_CLASSES,
};

function cifar100(labels: 'fine' | 'coarse'): Variant {
  return {
    id: labels === 'fine' ? 'cifar100' : 'cifar100-coarse',
    archive: CIFAR100_ARCHIVE,
    format: { labelBytes: 2, labelIndex: labels === 'fine' ? 1 : 0 },
    trainFiles: ['train.bin'],
    testFiles: ['test.bin'],
    standard: { train: 50000, test: 10000 },
    metaFile: labels === 'fine' ? 'fine_label_names.txt' : 'coarse_label_names.txt',
    defaultClasses: labels === 'fine' ? CIFAR100_FINE_CLASSES : CIFAR100_COARSE_CLASSES,
  };
}

async function loadVariant(v: Variant, opts: CifarOptions): Promise<ImageDataset> {
  const fs = await fsModule();
  const path = await pathModule();
  const split = opts.split ?? 'train';
  const wanted = split === 'train' ? v.trainFiles : v.testFiles;
  const archive = opts.archive ?? v.archive;
  let dir: string;
  const notes: string[] = [];
  if (opts.dataDir) {
    // Accept either the directory with the .bin files or its parent.
    const nested = path.join(opts.dataDir, archive.root);
    dir = wanted.some((f) => fs.existsSync(path.join(opts.dataDir!, f))) ? opts.dataDir : nested;
    if (!wanted.some((f) => fs.existsSync(path.join(dir, f)))) {
      throw new DatasetError(
        `wgslgrad.data: no ${archive.name} ${split} files (${wanted.join(', ')}) in ${opts.dataDir} or ${nested}; ` +
          `leave out --data-dir to download ${archive.url}`,
      );
    }
  } else {
    dir = await ensureDataset(archive, [...v.trainFiles, ...v.testFiles], opts);
  }
  const present = wanted.filter((f) => fs.existsSync(path.join(dir, f)));
  const absent = wanted.filter((f) => !present.includes(f));
  if (absent.length) notes.push(`${absent.join(', ')} not found in ${dir}; using ${present.join(', ')}`);

  const parts = present.map((f) => parseCifarRecords(new Uint8Array(fs.readFileSync(path.join(dir, f))), v.format, path.join(dir, f)));
  const count = parts.reduce((s, p) => s + p.labels.length, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * PIXELS);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  if (count !== v.standard[split]) notes.push(`${count} ${split} records (the standard set has ${v.standard[split]})`);

  let classes = v.defaultClasses;
  const meta = path.join(dir, v.metaFile);
  if (fs.existsSync(meta)) {
    const names = fs.readFileSync(meta, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
    if (names.length === v.defaultClasses.length) classes = names;
  }
  return makeDataset({ name: `${v.id}/${split}`, images, labels, channels: 3, height: 32, width: 32, classes, notes });
}

/** CIFAR-10 (10 classes, 32x32 RGB). */
export function loadCifar10(opts: CifarOptions = {}): Promise<ImageDataset> {
  return loadVariant(CIFAR10, opts);
}

/** CIFAR-100 with its 100 fine labels (default) or 20 coarse labels. */
export function loadCifar100(opts: CifarOptions & { labels?: 'fine' | 'coarse' } = {}): Promise<ImageDataset> {
  return loadVariant(cifar100(opts.labels ?? 'fine'), opts);
}

/** Per-channel statistics of the CIFAR training sets (0..1 scale), the usual normalisation. */
export const CIFAR10_MEAN = [0.4914, 0.4822, 0.4465];
export const CIFAR10_STD = [0.247, 0.2435, 0.2616];
export const CIFAR100_MEAN = [0.5071, 0.4865, 0.4409];
export const CIFAR100_STD = [0.2673, 0.2564, 0.2762];
