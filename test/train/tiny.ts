// A tiny linear classifier built from core ops only (no nn.Module), for trainer tests.
import * as wg from '../../src/index.js';
import { copyInto } from '../../src/kernels/copy.js';
import { contiguousStrides } from '../../src/tensor/shape.js';

export class TinyNet {
  weight: wg.Tensor;
  bias: wg.Tensor;
  training = true;

  constructor(inFeatures: number, classes: number, seed: number) {
    this.weight = wg.randn([inFeatures, classes], { seed, std: 0.05, requiresGrad: true }).keep();
    this.bias = wg.zeros([classes], { requiresGrad: true }).keep();
  }

  forward(x: wg.Tensor): wg.Tensor {
    return wg.matmul(x.reshape([x.shape[0], -1]), this.weight).add(this.bias);
  }

  parameters(): wg.Tensor[] {
    return [this.weight, this.bias];
  }

  train(mode = true): this {
    this.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  stateDict(): Map<string, wg.Tensor> {
    return new Map([['fc.weight', this.weight], ['fc.bias', this.bias]]);
  }

  loadStateDict(state: ReadonlyMap<string, wg.Tensor>): void {
    for (const [k, dst] of this.stateDict()) {
      const src = state.get(k)!;
      copyInto(src, { buffer: dst.buffer, offset: dst.offset, strides: contiguousStrides(dst.shape) });
    }
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}

/** A differentiable stand-in loss built from core ops: mean of squared logits minus the label's... kept simple. */
export function squaredLoss(logits: wg.Tensor): wg.Tensor {
  return logits.mul(logits).mean();
}
