// SPDX-License-Identifier: MIT
// Float64 reference for sgd_update.wgsl and adam_update.wgsl: torch.optim.SGD / Adam / AdamW
// (single-tensor code path of torch 1.13) written as plain loops. Tests check these against the
// PyTorch fixtures and the GPU kernels against these.

export interface SgdRefOptions {
  lr: number;
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
  maximize?: boolean;
}

export interface SgdRefState {
  /** null until the first momentum step (torch's "momentum_buffer is None"). */
  momentumBuffer: Float64Array | null;
}

/** One SGD step; updates `param` and `state` in place. */
export function sgdStepRef(param: Float64Array, grad: ArrayLike<number>, state: SgdRefState, o: SgdRefOptions): void {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false, maximize = false } = o;
  const first = momentum !== 0 && state.momentumBuffer === null;
  if (first) state.momentumBuffer = new Float64Array(param.length);
  const buf = state.momentumBuffer;
  for (let i = 0; i < param.length; i++) {
    let g = maximize ? -grad[i] : grad[i];
    g += weightDecay * param[i];
    if (momentum !== 0 && buf) {
      buf[i] = first ? g : momentum * buf[i] + (1 - dampening) * g;
      g = nesterov ? g + momentum * buf[i] : buf[i];
    }
    param[i] -= lr * g;
  }
}

export interface AdamRefOptions {
  lr: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  amsgrad?: boolean;
  maximize?: boolean;
  /** AdamW: decay the parameter by lr * weightDecay instead of adding weightDecay * p to g. */
  decoupled?: boolean;
}

export interface AdamRefState {
  step: number;
  expAvg: Float64Array;
  expAvgSq: Float64Array;
  maxExpAvgSq: Float64Array;
}

export function adamStateRef(n: number): AdamRefState {
  return { step: 0, expAvg: new Float64Array(n), expAvgSq: new Float64Array(n), maxExpAvgSq: new Float64Array(n) };
}

/** One Adam (or AdamW) step; updates `param` and `state` in place. */
export function adamStepRef(param: Float64Array, grad: ArrayLike<number>, state: AdamRefState, o: AdamRefOptions): void {
  const { lr, betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0, amsgrad = false, maximize = false, decoupled = false } = o;
  const [beta1, beta2] = betas;
  state.step += 1;
  const stepSize = lr / (1 - beta1 ** state.step);
  const bc2Sqrt = Math.sqrt(1 - beta2 ** state.step);
  const { expAvg: m, expAvgSq: v, maxExpAvgSq: vmax } = state;
  for (let i = 0; i < param.length; i++) {
    let g = maximize ? -grad[i] : grad[i];
    if (decoupled) param[i] *= 1 - lr * weightDecay;
    else g += weightDecay * param[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    let vHat = v[i];
    if (amsgrad) vHat = vmax[i] = Math.max(vmax[i], v[i]);
    param[i] -= (stepSize * m[i]) / (Math.sqrt(vHat) / bc2Sqrt + eps);
  }
}
