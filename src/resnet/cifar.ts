// SPDX-License-Identifier: MIT
// The CIFAR-10 ResNets of He et al. 2015, section 4.2: depth 6n+2 (20, 32, 44, 56, 110, 1202).
//
//   x: (N, 3, 32, 32) --conv1 3x3 (16)--bn1--relu--> layer1 (n blocks, 16 ch, 32x32)
//     --> layer2 (n blocks, 32 ch, 16x16) --> layer3 (n blocks, 64 ch, 8x8) --avgpool--fc--> (N, numClasses)
//
// The first block of layer2/layer3 halves the resolution and doubles the channels, so its
// shortcut must change shape:
//   'A' (the paper's CIFAR choice): parameter-free — take every second pixel, x[:, :, ::2, ::2],
//       and pad the channels with zeros, planes/4 before and planes/4 after (ShortcutA);
//   'B': a projection — 1x1 convolution with stride 2 and a BatchNorm, as in the ImageNet nets.
// Module names follow torchvision (conv1, bn1, layer1.0.conv1, ..., fc), so the state dicts of
// test/fixtures/generate.py's CifarResNet load unchanged.

import { Module } from '../nn/module.js';
import { Conv2d, BatchNorm2d, ReLU, AdaptiveAvgPool2d, Linear, Sequential } from '../nn/layers/index.js';
import { BasicBlock, conv1x1, conv3x3, initResNet, convBnRelu, fusionEnabled } from './resnet.js';
import { scope } from '../tensor/scope.js';
import { flatten, slice, cat, plain, disposeIfCopy } from '../ops/shape.js';
import { zeros } from '../ops/creation.js';
import { recordOp } from '../autograd/record.js';
import { assertAlive, assertFloat, type Tensor } from '../tensor/tensor.js';
import { shortcutAForward, shortcutABackward } from '../kernels/shortcut.js';
import { OpArgumentError, fmtShape } from '../tensor/errors.js';

export type Shortcut = 'A' | 'B';

/**
 * Option-A shortcut: subsample by 2 in H and W, then zero-pad the channel dimension with
 * `planes / 4` zero channels on each side (output channel c = input channel c - planes/4, or 0).
 * For the CIFAR nets planes = 2 * inplanes, so the output has `planes` channels.
 *   x: (N, C, H, W)  ->  y: (N, C + 2 * floor(planes / 4), ceil(H / 2), ceil(W / 2))
 */
export class ShortcutA extends Module {
  constructor(readonly planes: number) {
    super();
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== 4) throw new OpArgumentError(`ShortcutA: expected (N, C, H, W) input, got ${fmtShape(x.shape)}`);
    assertAlive('ShortcutA', x);
    assertFloat('ShortcutA', x);
    const pad = Math.floor(this.planes / 4);
    if (fusionEnabled()) {
      // One pass each way (shortcut_a_forward/backward.wgsl) instead of views, a zero fill and
      // strided copies: the same values (tested against the composition below).
      const xp = plain(x);
      const y = shortcutAForward(xp, pad);
      disposeIfCopy(xp, x);
      const xShape = [...x.shape];
      return recordOp('shortcutA', [x], y, [], (gy) => {
        const gyp = plain(gy);
        const dx = shortcutABackward(gyp, xShape, pad);
        disposeIfCopy(gyp, gy);
        return [dx];
      });
    }
    return scope(() => {
      const sub = slice(slice(x, 2, 0, undefined, 2), 3, 0, undefined, 2); // x[:, :, ::2, ::2], a view
      if (pad === 0) return sub.contiguous();
      const [n, , h, w] = sub.shape;
      const zero = zeros([n, pad, h, w]);
      return cat([zero, sub, zero], 1);
    });
  }

  override extraRepr(): string {
    return `planes=${this.planes}`;
  }
}

export interface CifarResNetOptions {
  /** 'A': parameter-free zero-padding shortcut (the paper's); 'B': 1x1 projection. Default 'A'. */
  shortcut?: Shortcut;
  /** Default 10. */
  numClasses?: number;
  /** Start every residual branch at zero (bn2.weight = 0). Default false. */
  zeroInitResidual?: boolean;
}

export class CifarResNet extends Module {
  readonly depth: number;
  readonly shortcut: Shortcut;
  private inplanes = 16;
  conv1: Conv2d;
  bn1: BatchNorm2d;
  relu: ReLU;
  layer1: Sequential;
  layer2: Sequential;
  layer3: Sequential;
  avgpool: AdaptiveAvgPool2d;
  fc: Linear;

  constructor(depth: number, opts: CifarResNetOptions = {}) {
    super();
    if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
      throw new OpArgumentError(`cifarResnet: depth must be 6n+2 with n >= 1 (20, 32, 44, 56, 110, 1202), got ${depth}`);
    }
    const shortcut = opts.shortcut ?? 'A';
    if (shortcut !== 'A' && shortcut !== 'B') throw new OpArgumentError(`cifarResnet: shortcut must be 'A' or 'B', got '${shortcut as string}'`);
    const numClasses = opts.numClasses ?? 10;
    if (!Number.isInteger(numClasses) || numClasses <= 0) throw new OpArgumentError(`cifarResnet: numClasses must be a positive integer, got ${numClasses}`);
    this.depth = depth;
    this.shortcut = shortcut;
    const n = (depth - 2) / 6;
    this.conv1 = this.registerModule('conv1', conv3x3(3, 16));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(16));
    this.relu = this.registerModule('relu', new ReLU());
    this.layer1 = this.registerModule('layer1', this.makeLayer(16, n, 1));
    this.layer2 = this.registerModule('layer2', this.makeLayer(32, n, 2));
    this.layer3 = this.registerModule('layer3', this.makeLayer(64, n, 2));
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d([1, 1]));
    this.fc = this.registerModule('fc', new Linear(64, numClasses));
    initResNet(this, opts.zeroInitResidual ?? false);
  }

  private makeLayer(planes: number, blocks: number, stride: number): Sequential {
    let downsample: Module | null = null;
    if (stride !== 1 || this.inplanes !== planes) {
      downsample = this.shortcut === 'A'
        ? new ShortcutA(planes)
        : new Sequential(conv1x1(this.inplanes, planes, stride), new BatchNorm2d(planes));
    }
    const layer = new Sequential(new BasicBlock(this.inplanes, planes, stride, downsample));
    this.inplanes = planes;
    for (let i = 1; i < blocks; i++) layer.append(new BasicBlock(planes, planes));
    return layer;
  }

  /** The pooled features that feed the classifier: (N, 64). */
  features(x: Tensor): Tensor {
    return scope(() => {
      let y = convBnRelu(this.conv1, this.bn1, this.relu, x);
      y = this.layer3.forward(this.layer2.forward(this.layer1.forward(y)));
      return flatten(this.avgpool.forward(y), 1);
    });
  }

  forward(x: Tensor): Tensor {
    return scope(() => this.fc.forward(this.features(x)));
  }
}

/** A CIFAR ResNet of depth 6n+2 (He et al. 2015, section 4.2). */
export function cifarResnet(depth: number, opts: CifarResNetOptions = {}): CifarResNet {
  return new CifarResNet(depth, opts);
}

export const resnet20 = (opts: CifarResNetOptions = {}): CifarResNet => cifarResnet(20, opts);
export const resnet32 = (opts: CifarResNetOptions = {}): CifarResNet => cifarResnet(32, opts);
export const resnet44 = (opts: CifarResNetOptions = {}): CifarResNet => cifarResnet(44, opts);
export const resnet56 = (opts: CifarResNetOptions = {}): CifarResNet => cifarResnet(56, opts);
export const resnet110 = (opts: CifarResNetOptions = {}): CifarResNet => cifarResnet(110, opts);
