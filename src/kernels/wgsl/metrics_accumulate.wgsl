// metrics_accumulate.wgsl — add one batch's loss and number of correct predictions to a small
// running accumulator on the GPU, so a training loop never has to read the loss back per step.
//
//   acc[0] += loss * rows                     (sum of per-sample losses; loss is the batch mean)
//   acc[1] += #{ r : argmax_c logits[r, c] == labels[r] }   (first maximum wins, as torch.argmax)
//   acc[2] += rows                            (samples seen)
//   acc[3] += 1 if loss is NaN or +-Inf       (non-finite steps: the trainer stops on them)
//
// Bindings: 0 logits (rows, cols) f32 contiguous, 1 labels (rows) i32, 2 loss (1) f32,
//           3 acc (4) f32 read-write, 4 params.
// One workgroup: each lane takes rows lane, lane + WG, ...; the counts are summed in workgroup
// memory and lane 0 updates acc. Batches are small (rows <= a few thousand), so one workgroup
// of WG lanes is plenty and the update needs no atomics.
// Reference: src/kernels/reference/metrics.ts (metricsAccumulateRef). Launcher: src/kernels/metrics.ts.

struct MetricsParams {                // packed by metricsAccumulate(), same field order
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<storage, read>       logits: array<f32>;
@group(0) @binding(1) var<storage, read>       labels: array<i32>;
@group(0) @binding(2) var<storage, read>       loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> acc: array<f32>;
@group(0) @binding(4) var<uniform>             p: MetricsParams;

override WG: u32 = 64u;

var<workgroup> correct: array<u32, WG>;

fn is_finite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;   // exponent all ones: Inf or NaN
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lane: u32) {
  var count = 0u;
  for (var r = lane; r < p.rows; r += WG) {
    let base = r * p.cols;
    var best = logits[base];
    var arg = 0u;
    for (var c = 1u; c < p.cols; c++) {
      let v = logits[base + c];
      if (v > best) { best = v; arg = c; }
    }
    if (i32(arg) == labels[r]) { count += 1u; }
  }
  correct[lane] = count;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    if (lane < stride) { correct[lane] += correct[lane + stride]; }
    workgroupBarrier();
  }
  if (lane == 0u) {
    let l = loss[0];
    acc[0] += l * f32(p.rows);
    acc[1] += f32(correct[0]);
    acc[2] += f32(p.rows);
    if (!is_finite(l)) { acc[3] += 1.0; }
  }
}
