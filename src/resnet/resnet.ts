// SPDX-License-Identifier: MIT
// ResNets as torchvision builds them (torchvision/models/resnet.py): the same modules, the
// same state-dict keys, the same initialisation, so torchvision checkpoints load unchanged.
//
//   x: (N, 3, H, W) --conv1 7x7/2--bn1--relu--maxpool 3x3/2--> layer1..layer4 --avgpool--fc--> (N, numClasses)
//
// He et al. 2015, "Deep Residual Learning for Image Recognition"; the stride-2 convolution of a
// Bottleneck sits in its 3x3 conv (conv2), as in torchvision ("ResNet v1.5").
// The forward passes use fused ops (setFusion(false) turns them off; the values are the same up
// to float rounding): bn + relu as one batch-norm pass (BatchNorm2d.forwardRelu), and a block's
// last bn + residual add + relu as one batch-norm pass too (BatchNorm2d.forwardAddRelu, or the
// elementwise addRelu after another module); at inference (eval mode under wg.noGrad) every
// conv + bn is one convolution with the batch norm folded into its weights, which also adds the
// residual and applies the ReLU before it stores (src/nn/fold-batch-norm.ts). The `relu` modules
// stay registered, as in torchvision.

import { Module } from '../nn/module.js';
import { Conv2d, BatchNorm2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, Linear, Sequential } from '../nn/layers/index.js';
import { kaimingNormal_, constant_ } from '../nn/init.js';
import { scope } from '../tensor/scope.js';
import { flatten } from '../ops/shape.js';
import { add, addRelu } from '../ops/elementwise.js';
import { OpArgumentError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { canFoldBatchNorm, convBatchNormFolded, dropFoldedBatchNorm } from '../nn/fold-batch-norm.js';

let fusion = true;

/**
 * Whether the ResNet forward passes use the fused BatchNorm + ReLU and residual add + ReLU ops
 * (default true). false runs the unfused ops (bn, relu, add as separate passes) -- the same
 * values and gradients; an option for A/B timing and debugging. Returns the previous setting.
 */
export function setFusion(on: boolean): boolean {
  const previous = fusion;
  fusion = on;
  return previous;
}

/** Whether setFusion is on (read by the fused ops of the CIFAR nets' option-A shortcut). */
export function fusionEnabled(): boolean {
  return fusion;
}

/** relu(bn(x)), fused unless setFusion(false). */
export function bnRelu(bn: BatchNorm2d, relu: ReLU, x: Tensor): Tensor {
  return fusion ? bn.forwardRelu(x) : relu.forward(bn.forward(x));
}

/** relu(out + identity), the end of a residual block, fused unless setFusion(false). */
export function residualRelu(relu: ReLU, out: Tensor, identity: Tensor): Tensor {
  return fusion ? addRelu(out, identity) : relu.forward(add(out, identity));
}

/** Whether conv + bn runs as one folded convolution now (inference, see the header). */
function folds(conv: Conv2d, bn: BatchNorm2d): boolean {
  if (fusion && canFoldBatchNorm(conv, bn)) return true;
  dropFoldedBatchNorm(conv); // a copy kept by an earlier inference pass: stale from now on
  return false;
}

/** bn(conv(x)). */
export function convBn(conv: Conv2d, bn: BatchNorm2d, x: Tensor): Tensor {
  return folds(conv, bn) ? convBatchNormFolded(conv, bn, x) : bn.forward(conv.forward(x));
}

/** relu(bn(conv(x))). */
export function convBnRelu(conv: Conv2d, bn: BatchNorm2d, relu: ReLU, x: Tensor): Tensor {
  return folds(conv, bn) ? convBatchNormFolded(conv, bn, x, { relu: true }) : bnRelu(bn, relu, conv.forward(x));
}

/** relu(bn(conv(x)) + identity): the end of a residual block. */
export function convBnAddRelu(conv: Conv2d, bn: BatchNorm2d, relu: ReLU, x: Tensor, identity: Tensor): Tensor {
  if (folds(conv, bn)) return convBatchNormFolded(conv, bn, x, { relu: true, residual: identity });
  if (fusion) return bn.forwardAddRelu(conv.forward(x), identity);
  return residualRelu(relu, bn.forward(conv.forward(x)), identity);
}

/** The shortcut of a block: x, or its downsample (torchvision's Sequential(conv1x1, BatchNorm2d)). */
export function shortcut(downsample: Module | null, x: Tensor): Tensor {
  if (!downsample) return x;
  if (downsample instanceof Sequential && downsample.length === 2) {
    const [conv, bn] = [downsample.at(0), downsample.at(1)];
    if (conv instanceof Conv2d && bn instanceof BatchNorm2d) return convBn(conv, bn, x);
  }
  return downsample.forward(x);
}

/** 3x3 convolution with padding 1, no bias (a BatchNorm follows). */
export function conv3x3(inPlanes: number, outPlanes: number, stride = 1, groups = 1, dilation = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 3, { stride, padding: dilation, groups, dilation, bias: false });
}

/** 1x1 convolution, no bias. */
export function conv1x1(inPlanes: number, outPlanes: number, stride = 1): Conv2d {
  return new Conv2d(inPlanes, outPlanes, 1, { stride, bias: false });
}

/** The shape of a residual block, for building layers from a table. */
export interface BlockType {
  new (inplanes: number, planes: number, stride: number, downsample: Module | null, groups: number, baseWidth: number): Module & { bnLast(): BatchNorm2d };
  /** Output channels = planes * expansion. */
  readonly expansion: number;
}

/**
 * Two 3x3 convolutions and a shortcut (ResNet-18/34):
 *   out = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),  shortcut = downsample ?? identity.
 */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu: ReLU;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  downsample: Module | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: Module | null = null, groups = 1, baseWidth = 64) {
    super();
    if (groups !== 1 || baseWidth !== 64) {
      throw new OpArgumentError(`BasicBlock: only supports groups=1 and baseWidth=64, got groups=${groups}, baseWidth=${baseWidth}`);
    }
    this.conv1 = this.registerModule('conv1', conv3x3(inplanes, planes, stride));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.relu = this.registerModule('relu', new ReLU());
    this.conv2 = this.registerModule('conv2', conv3x3(planes, planes));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.downsample = this.registerModule('downsample', downsample);
  }

  /** The BatchNorm whose weight zeroInitResidual sets to 0 (the block then starts as identity). */
  bnLast(): BatchNorm2d {
    return this.bn2;
  }

  forward(x: Tensor): Tensor {
    // scope(): the block's intermediates are freed on return (autograd keeps what it saved).
    return scope(() => {
      const out = convBnRelu(this.conv1, this.bn1, this.relu, x);
      return convBnAddRelu(this.conv2, this.bn2, this.relu, out, shortcut(this.downsample, x));
    });
  }
}

/**
 * 1x1 reduce, 3x3 (carries the stride), 1x1 expand by 4, and a shortcut (ResNet-50/101/152):
 *   out = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + shortcut(x)).
 */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  conv2: Conv2d;
  bn2: BatchNorm2d;
  conv3: Conv2d;
  bn3: BatchNorm2d;
  relu: ReLU;
  downsample: Module | null;

  constructor(inplanes: number, planes: number, stride = 1, downsample: Module | null = null, groups = 1, baseWidth = 64) {
    super();
    const width = Math.floor(planes * (baseWidth / 64)) * groups;
    this.conv1 = this.registerModule('conv1', conv1x1(inplanes, width));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(width));
    this.conv2 = this.registerModule('conv2', conv3x3(width, width, stride, groups));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(width));
    this.conv3 = this.registerModule('conv3', conv1x1(width, planes * Bottleneck.expansion));
    this.bn3 = this.registerModule('bn3', new BatchNorm2d(planes * Bottleneck.expansion));
    this.relu = this.registerModule('relu', new ReLU());
    this.downsample = this.registerModule('downsample', downsample);
  }

  bnLast(): BatchNorm2d {
    return this.bn3;
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      let out = convBnRelu(this.conv1, this.bn1, this.relu, x);
      out = convBnRelu(this.conv2, this.bn2, this.relu, out);
      return convBnAddRelu(this.conv3, this.bn3, this.relu, out, shortcut(this.downsample, x));
    });
  }
}

export interface ResNetOptions {
  /** Size of the classifier (default 1000, ImageNet). */
  numClasses?: number;
  /** Start every residual branch at zero (its last BN weight = 0): Goyal et al. 2017. */
  zeroInitResidual?: boolean;
  /** Grouped 3x3 convolutions in Bottlenecks (ResNeXt). Default 1. */
  groups?: number;
  /** Channels per group at planes=64 (wide ResNets use 128). Default 64. */
  widthPerGroup?: number;
}

export class ResNet extends Module {
  private inplanes = 64;
  private readonly groups: number;
  private readonly baseWidth: number;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu: ReLU;
  maxpool: MaxPool2d;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  layer4: Sequential;
  avgpool: AdaptiveAvgPool2d;
  fc: Linear;

  /** `layers`: the number of blocks in each of the four stages, e.g. [2, 2, 2, 2] for ResNet-18. */
  constructor(block: BlockType, layers: readonly [number, number, number, number], opts: ResNetOptions = {}) {
    super();
    const numClasses = opts.numClasses ?? 1000;
    if (!Number.isInteger(numClasses) || numClasses <= 0) throw new OpArgumentError(`ResNet: numClasses must be a positive integer, got ${numClasses}`);
    if (layers.length !== 4 || !layers.every((n) => Number.isInteger(n) && n >= 1)) {
      throw new OpArgumentError(`ResNet: layers must be four positive block counts, got [${layers.join(', ')}]`);
    }
    this.groups = opts.groups ?? 1;
    this.baseWidth = opts.widthPerGroup ?? 64;
    this.conv1 = this.registerModule('conv1', new Conv2d(3, this.inplanes, 7, { stride: 2, padding: 3, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(this.inplanes));
    this.relu = this.registerModule('relu', new ReLU());
    this.maxpool = this.registerModule('maxpool', new MaxPool2d(3, { stride: 2, padding: 1 }));
    this.layer1 = this.registerModule('layer1', this.makeLayer(block, 64, layers[0]));
    this.layer2 = this.registerModule('layer2', this.makeLayer(block, 128, layers[1], 2));
    this.layer3 = this.registerModule('layer3', this.makeLayer(block, 256, layers[2], 2));
    this.layer4 = this.registerModule('layer4', this.makeLayer(block, 512, layers[3], 2));
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d([1, 1]));
    this.fc = this.registerModule('fc', new Linear(512 * block.expansion, numClasses));
    initResNet(this, opts.zeroInitResidual ?? false);
  }

  private makeLayer(block: BlockType, planes: number, blocks: number, stride = 1): Sequential {
    let downsample: Module | null = null;
    if (stride !== 1 || this.inplanes !== planes * block.expansion) {
      downsample = new Sequential(conv1x1(this.inplanes, planes * block.expansion, stride), new BatchNorm2d(planes * block.expansion));
    }
    const layers = new Sequential(new block(this.inplanes, planes, stride, downsample, this.groups, this.baseWidth));
    this.inplanes = planes * block.expansion;
    for (let i = 1; i < blocks; i++) layers.append(new block(this.inplanes, planes, 1, null, this.groups, this.baseWidth));
    return layers;
  }

  /** The pooled features that feed the classifier: (N, 512 * expansion). */
  features(x: Tensor): Tensor {
    return scope(() => {
      let y = this.maxpool.forward(convBnRelu(this.conv1, this.bn1, this.relu, x));
      y = this.layer1.forward(y);
      y = this.layer2.forward(y);
      y = this.layer3.forward(y);
      y = this.layer4.forward(y);
      return flatten(this.avgpool.forward(y), 1);
    });
  }

  forward(x: Tensor): Tensor {
    return scope(() => this.fc.forward(this.features(x)));
  }
}

/**
 * torchvision's initialisation: Kaiming-normal (fan_out, relu) convolutions, BatchNorm weight 1
 * and bias 0, the Linear keeps its default; optionally zero the last BN of every residual branch.
 */
export function initResNet(model: Module, zeroInitResidual: boolean): void {
  for (const m of model.modules()) {
    if (m instanceof Conv2d) {
      kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
    } else if (m instanceof BatchNorm2d) {
      if (m.weight) constant_(m.weight, 1);
      if (m.bias) constant_(m.bias, 0);
    }
  }
  if (zeroInitResidual) {
    for (const m of model.modules()) {
      if (m instanceof BasicBlock || m instanceof Bottleneck) {
        const bn = m.bnLast();
        if (bn.weight) constant_(bn.weight, 0);
      }
    }
  }
}

/** Blocks per stage for each depth, as in the paper's Table 1. */
const TABLE = {
  18: [BasicBlock, [2, 2, 2, 2]],
  34: [BasicBlock, [3, 4, 6, 3]],
  50: [Bottleneck, [3, 4, 6, 3]],
  101: [Bottleneck, [3, 4, 23, 3]],
  152: [Bottleneck, [3, 8, 36, 3]],
} as const satisfies Record<number, readonly [BlockType, readonly [number, number, number, number]]>;

function build(depth: keyof typeof TABLE, opts: ResNetOptions): ResNet {
  const [block, layers] = TABLE[depth];
  return new ResNet(block, layers, opts);
}

export const resnet18 = (opts: ResNetOptions = {}): ResNet => build(18, opts);
export const resnet34 = (opts: ResNetOptions = {}): ResNet => build(34, opts);
export const resnet50 = (opts: ResNetOptions = {}): ResNet => build(50, opts);
export const resnet101 = (opts: ResNetOptions = {}): ResNet => build(101, opts);
export const resnet152 = (opts: ResNetOptions = {}): ResNet => build(152, opts);
/** ResNeXt-50 32x4d (Xie et al. 2017): grouped 3x3 convolutions. */
export const resnext50_32x4d = (opts: ResNetOptions = {}): ResNet => build(50, { ...opts, groups: 32, widthPerGroup: 4 });
/** Wide ResNet-50-2 (Zagoruyko & Komodakis 2016): twice the Bottleneck width. */
export const wideResnet50_2 = (opts: ResNetOptions = {}): ResNet => build(50, { ...opts, widthPerGroup: 128 });
