// Batch norm folded into convolutions at inference (src/nn/fold-batch-norm.ts): the folded ResNet
// blocks against the unfused layers (setFusion(false)) with non-trivial running statistics; the
// cache follows writes to the weights and to the running statistics; training, or a pass that
// records gradients, never folds. (The PyTorch fixtures of test/resnet/fixtures.test.ts run the
// folded path too: eval mode under noGrad.)
import { describe, it, expect, afterEach } from 'vitest';
import * as wg from '../../src/index.js';
import { useDevice, expectClose } from '../helpers.js';
import { canFoldBatchNorm } from '../../src/nn/fold-batch-norm.js';
import type { Module } from '../../src/nn/module.js';

useDevice();
const nn = wg.nn;

afterEach(() => {
  wg.models.setFusion(true);
});

/** Give every BatchNorm2d of `m` running statistics and affine parameters far from 0 / 1. */
function randomizeBatchNorms(m: Module): void {
  for (const bn of m.modules()) {
    if (!(bn instanceof nn.BatchNorm2d)) continue;
    nn.init.normal_(bn.runningMean!, 0, 0.5);
    nn.init.uniform_(bn.runningVar!, 0.5, 2);
    nn.init.uniform_(bn.weight!, 0.5, 1.5);
    nn.init.normal_(bn.bias!, 0, 0.2);
  }
}

/** The same module's output folded (fusion on) and unfused (setFusion(false)), in eval mode. */
async function foldedVsUnfused(m: Module, x: wg.Tensor): Promise<void> {
  m.eval();
  const folded = wg.noGrad(() => m.forward(x));
  wg.models.setFusion(false);
  const unfused = wg.noGrad(() => m.forward(x));
  wg.models.setFusion(true);
  expectClose(await folded.data(), await unfused.data(), 1e-5, 'folded vs unfused');
  folded.dispose();
  unfused.dispose();
}

describe('batch norm folded into the convolution at inference', () => {
  it('BasicBlock with a downsample (3x3 row kernel, 1x1 GEMM shortcut, residual + ReLU epilogue)', async () => {
    const block = new wg.models.BasicBlock(16, 32, 2, new nn.Sequential(wg.models.conv1x1(16, 32, 2), new nn.BatchNorm2d(32)));
    randomizeBatchNorms(block);
    const x = wg.randn([2, 16, 12, 16], { seed: 5 });
    await foldedVsUnfused(block, x);
    x.dispose();
    block.dispose();
    wg.emptyCache();
  });

  it('Bottleneck with a downsample (1x1 GEMMs, stride-2 3x3)', async () => {
    const block = new wg.models.Bottleneck(32, 16, 2, new nn.Sequential(wg.models.conv1x1(32, 64, 2), new nn.BatchNorm2d(64)));
    randomizeBatchNorms(block);
    const x = wg.randn([2, 32, 8, 8], { seed: 6 });
    await foldedVsUnfused(block, x);
    x.dispose();
    block.dispose();
    wg.emptyCache();
  });

  it('grouped Bottleneck (ResNeXt-style: 4 groups of 8 channels), identity shortcut', async () => {
    const block = new wg.models.Bottleneck(64, 16, 1, null, 4, 32);
    randomizeBatchNorms(block);
    const x = wg.randn([2, 64, 6, 8], { seed: 4 });
    await foldedVsUnfused(block, x);
    x.dispose();
    block.dispose();
    wg.emptyCache();
  });

  it('a whole CIFAR ResNet-20 with option-B shortcuts', async () => {
    const model = wg.models.resnet20({ shortcut: 'B' });
    randomizeBatchNorms(model);
    const x = wg.randn([2, 3, 32, 32], { seed: 7 });
    await foldedVsUnfused(model, x);
    x.dispose();
    model.dispose();
    wg.emptyCache();
  });

  it('follows writes to the running statistics and to the weights', async () => {
    const block = new wg.models.BasicBlock(16, 16);
    randomizeBatchNorms(block);
    block.eval();
    const x = wg.randn([1, 16, 8, 8], { seed: 8 });
    const first = wg.noGrad(() => block.forward(x));
    // New running statistics (what a training step writes), then new weights (an optimizer step).
    randomizeBatchNorms(block);
    await foldedVsUnfused(block, x);
    nn.init.normal_(block.conv1.weight, 0, 0.1);
    await foldedVsUnfused(block, x);
    const last = wg.noGrad(() => block.forward(x));
    expect(Array.from(await last.data())).not.toEqual(Array.from(await first.data()));
    for (const t of [x, first, last]) t.dispose();
    block.dispose();
    wg.emptyCache();
  });

  it('does not fold in training, or when gradients are recorded', async () => {
    const block = new wg.models.BasicBlock(8, 8);
    randomizeBatchNorms(block);
    expect(wg.noGrad(() => canFoldBatchNorm(block.conv1, block.bn1))).toBe(false); // training mode
    block.eval();
    expect(wg.noGrad(() => canFoldBatchNorm(block.conv1, block.bn1))).toBe(true);
    expect(canFoldBatchNorm(block.conv1, block.bn1)).toBe(false); // grad mode on
    // Eval mode with gradients (a saliency map): the input gradient flows through the layers.
    const x = wg.randn([1, 8, 6, 6], { seed: 9, requiresGrad: true });
    const y = block.forward(x);
    y.sum().backward();
    expect(x.grad).not.toBeNull();
    const folded = wg.noGrad(() => block.forward(x));
    expectClose(await folded.data(), await y.data(), 1e-5, 'eval with grad vs folded');
    for (const t of [x, y, folded]) t.dispose();
    block.dispose();
    wg.emptyCache();
  });
});
