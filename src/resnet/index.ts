// SPDX-License-Identifier: MIT
// wg.models: ResNets as torchvision builds them, and the CIFAR ResNets of He et al. 2015.
export {
  ResNet, BasicBlock, Bottleneck, conv1x1, conv3x3, initResNet, setFusion, bnRelu, residualRelu,
  convBn, convBnRelu, convBnAddRelu, shortcut,
  resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d, wideResnet50_2,
  type ResNetOptions, type BlockType,
} from './resnet.js';
export {
  CifarResNet, ShortcutA, cifarResnet, resnet20, resnet32, resnet44, resnet56, resnet110,
  type CifarResNetOptions, type Shortcut,
} from './cifar.js';
