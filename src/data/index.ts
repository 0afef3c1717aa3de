// SPDX-License-Identifier: MIT
// wg.data: datasets (CIFAR-10/100, MNIST, image folders), the DataLoader and its GPU transform.
export { type ImageDataset, makeDataset, subset, classCounts, channelStats } from './dataset.js';
export { DatasetError } from './errors.js';
export { Rng, type RngState } from './rng.js';
export {
  loadCifar10, loadCifar100, parseCifarRecords, type CifarOptions,
  CIFAR10_CLASSES, CIFAR100_FINE_CLASSES, CIFAR100_COARSE_CLASSES, CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD,
} from './cifar.js';
export { loadMnist, loadBundledMnist, loadBundledMnistAll, parseIdx, mnistFromIdx, MNIST_MEAN, MNIST_STD, MNIST_CLASSES } from './mnist.js';
export { loadImageFolder, resizeCoverRgb, type ImageFolderOptions } from './image-folder.js';
export { DataLoader, type DataLoaderOptions, type LoaderState, type Batch } from './loader.js';
export { samplePlacements, type AugmentOptions } from './augment.js';
export { downloadArchive, ensureDataset, extractTar, defaultCacheDir, CIFAR10_ARCHIVE, CIFAR100_ARCHIVE, type ArchiveSpec } from './download.js';
export { readTar, type TarEntry } from './tar.js';
export { augmentBatch } from '../kernels/augment.js';
