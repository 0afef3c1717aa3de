// SPDX-License-Identifier: MIT
// wg.models: ResNets as torchvision builds them, and the CIFAR ResNets of He et al. 2015.
export {};
