// SPDX-License-Identifier: MIT
// Launchers for the cross-entropy kernels (no autograd here: see src/nn/functional/loss.ts).
//
//   cross_entropy_forward (one invocation per row: loss_n, lse_n)
//     -> cross_entropy_reduce (one workgroup: sum or mean, and the label report)
//   cross_entropy_backward (one invocation per logit)
//
// Label range check: labels live on the GPU, so their range is checked there
// (cross_entropy_reduce.wgsl) and the 16-byte report is copied into a staging buffer in the same
// batch. The check registered with the command queue maps it only when the queue settles its
// checks, which happens after the batch was submitted (every sync point: `await t.data()`,
// `wg.sync()`), and then raises an OpArgumentError naming crossEntropy, the shapes and the
// first bad row. So a bad label never stalls the pipeline, and is always reported at the next
// sync, deterministically (the first bad row is a min, not a race).

import { rawBuffer, byteOffsetOf } from '../tensor/storage.js';
import forwardSource from './wgsl/cross_entropy_forward.wgsl';
import reduceSource from './wgsl/cross_entropy_reduce.wgsl';
import backwardSource from './wgsl/cross_entropy_backward.wgsl';
import { defineKernel, launch, grid1d, isRecordOnly } from './launch.js';
import { Uniforms } from './uniforms.js';
import { Tensor, emptyTensor } from '../tensor/tensor.js';
import { commands } from '../tensor/queue.js';
import { gpu } from '../tensor/device.js';
import { OpArgumentError } from '../tensor/errors.js';

const forwardKernel = defineKernel('cross_entropy_forward', forwardSource, ['read', 'read', 'read_write', 'read_write', 'uniform']);
const reduceKernel = defineKernel('cross_entropy_reduce', reduceSource, ['read', 'read', 'read_write', 'read_write', 'uniform']);
const backwardKernel = defineKernel('cross_entropy_backward', backwardSource, ['read', 'read', 'read', 'read', 'read', 'read_write', 'uniform']);

const ROW_WG = 64;
const REDUCE_WG = 64;
const BACKWARD_WG = 256;

export type Reduction = 'mean' | 'sum' | 'none';
const REDUCTION_CODE: Record<Reduction, number> = { none: 0, sum: 1, mean: 2 };

export interface CrossEntropyConfig {
  N: number;
  C: number;
  labelSmoothing: number;
  reduction: Reduction;
  /** A label value whose rows are skipped, or null. */
  ignoreIndex: number | null;
}

function packCrossEntropyParams(c: CrossEntropyConfig): Uint8Array {
  return new Uniforms().u32(c.N).u32(c.C).f32(c.labelSmoothing).i32(c.ignoreIndex ?? 0).finish();
}

/**
 * Forward pass on plain logits (N, C) and int32 labels (N). Returns the loss (a scalar, or (N)
 * for 'none'), the per-row log-sum-exp and the int32 report (bad, firstBadRow, badLabel, valid).
 * `describe` is the shapes text used if the labels turn out to be out of range.
 */
export function crossEntropyForward(logits: Tensor, labels: Tensor, c: CrossEntropyConfig, describe: string): { loss: Tensor; lse: Tensor; report: Tensor } {
  const perRow = emptyTensor([c.N], 'float32', 'crossEntropy');
  const lse = emptyTensor([c.N], 'float32', 'crossEntropy lse');
  const params = packCrossEntropyParams(c);
  const hasIgnore = c.ignoreIndex !== null ? 1 : 0;
  launch(forwardKernel, {
    buffers: [logits.buffer, labels.buffer, perRow.buffer, lse.buffer],
    params,
    workgroups: grid1d(c.N, ROW_WG),
    constants: { WG: ROW_WG, HAS_IGNORE: hasIgnore },
    label: 'crossEntropy forward',
  });
  const none = c.reduction === 'none';
  const total = none ? null : emptyTensor([], 'float32', 'crossEntropy');
  const report = emptyTensor([4], 'int32', 'crossEntropy report');
  // 'none' binds the unused output to the report's neighbour: a small placeholder.
  const placeholder = none ? emptyTensor([1], 'float32', 'crossEntropy placeholder') : null;
  launch(reduceKernel, {
    buffers: [perRow.buffer, labels.buffer, (total ?? placeholder)!.buffer, report.buffer],
    params,
    workgroups: [1],
    constants: { WG: REDUCE_WG, HAS_IGNORE: hasIgnore, MEAN: c.reduction === 'mean' ? 1 : 0, WRITE_OUT: none ? 0 : 1 },
    label: 'crossEntropy reduce',
  });
  placeholder?.dispose();
  checkReportAtNextSync(report, c, describe);
  if (total) perRow.dispose();
  return { loss: total ?? perRow, lse, report };
}

/** Copy the report into a staging buffer now; read it (and raise) when the queue settles. */
function checkReportAtNextSync(report: Tensor, c: CrossEntropyConfig, describe: string): void {
  if (isRecordOnly()) return; // wg.warmup: the report holds garbage, nothing ran
  const ctx = gpu();
  const q = commands();
  const staging = ctx.device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'crossEntropy label report' });
  q.copy(rawBuffer(report.buffer), byteOffsetOf(report.buffer), staging, 0, 16);
  const batch = q.submits; // the copy goes out with submit number `batch` (0-based)
  // A thenable, not a promise: its body runs only when the queue awaits its checks, which it
  // does after submitting the batch that holds the copy (mapping earlier would be an error).
  // If other code recorded this call while a sync was already waiting, submit it first.
  const lazyCheck = {
    then(resolve: () => void, reject: (e: unknown) => void) {
      if (q.submits <= batch) q.flush();
      staging
        .mapAsync(GPUMapMode.READ)
        .then(() => {
          const [bad, row, label] = new Int32Array(staging.getMappedRange().slice(0));
          staging.unmap();
          if (bad > 0) {
            const ignore = c.ignoreIndex !== null ? ` (or the ignored label ${c.ignoreIndex})` : '';
            ctx.pendingErrors.push(new OpArgumentError(
              `crossEntropy: ${bad} label(s) outside [0, ${c.C})${ignore} for ${describe}; the first is ${label} at row ${row}`,
            ));
          }
        })
        .finally(() => staging.destroy())
        .then(resolve, reject);
    },
  };
  q.addCheck(lazyCheck as unknown as Promise<void>);
}

/** dlogits from the saved plain logits, labels, lse, report and a plain gy. */
export function crossEntropyBackward(gy: Tensor, logits: Tensor, labels: Tensor, lse: Tensor, report: Tensor, c: CrossEntropyConfig): Tensor {
  const dx = emptyTensor([c.N, c.C], 'float32', 'crossEntropy dlogits');
  launch(backwardKernel, {
    buffers: [logits.buffer, labels.buffer, lse.buffer, gy.buffer, report.buffer, dx.buffer],
    params: packCrossEntropyParams(c),
    workgroups: grid1d(c.N * c.C, BACKWARD_WG),
    constants: { WG: BACKWARD_WG, HAS_IGNORE: c.ignoreIndex !== null ? 1 : 0, REDUCTION: REDUCTION_CODE[c.reduction] },
    label: 'crossEntropy backward',
  });
  return dx;
}
