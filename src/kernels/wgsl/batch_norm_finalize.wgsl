// batch_norm_finalize.wgsl — per-channel statistics, affine coefficients and the in-place
// running-statistics update of batch norm. One invocation per channel (C is small).
//
// Training (TRAINING = true): merge the P partial (count, mean, m2) states of channel c written
// by batch_norm_stats.wgsl, in order 0..P-1 (deterministic), then
//   var = m2 / M (biased, used to normalise)        invstd = 1 / sqrt(var + eps)
// and, when UPDATE_RUNNING, update the running statistics in place exactly as PyTorch does:
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)   (unbiased)
// Eval (TRAINING = false): mean = running_mean[c], invstd = 1 / sqrt(running_var[c] + eps).
// In both modes y = x * scale + shift with
//   scale = weight[c] * invstd   (weight = 1 when HAS_WEIGHT is false)
//   shift = bias[c] - mean * scale   (bias = 0 when HAS_BIAS is false)
//   stats[c] = (mean, invstd, scale, shift)     read by batch_norm_forward.wgsl and backward.
// With COUNT (a BatchNorm module training), invocation 0 also adds 1 to num_batches_tracked, as
// torch's module does on every training forward: one dispatch fewer per layer than a kernel of
// its own. The counter stays on the GPU, so a step needs no upload for it and a loaded state
// dict stays the single source of truth.
// Bindings: 0 partial (read, (C*P) vec4), 1 weight (read, C), 2 bias (read, C),
//           3 running_mean (read_write, C), 4 running_var (read_write, C), 5 stats (write, C vec4),
//           6 params, 7 num_batches_tracked (read_write, i32).
// Absent tensors are bound to small placeholder buffers and never read.
// Reference: src/kernels/reference/batch-norm.ts. Launcher: src/kernels/batch-norm.ts.

struct FinalizeParams {
  C: u32,
  P: u32,
  M: f32,            // values per channel, N * H * W
  eps: f32,
  momentum: f32,
  rm_offset: u32,    // element offsets of the running tensors in their buffers (views)
  rv_offset: u32,
  count_offset: u32, // element offset of num_batches_tracked in its buffer
}

@group(0) @binding(0) var<storage, read> partial: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> p: FinalizeParams;
@group(0) @binding(7) var<storage, read_write> num_batches_tracked: array<i32>;

override WG: u32 = 64u;
override TRAINING: bool = true;
override UPDATE_RUNNING: bool = true;
override HAS_WEIGHT: bool = true;
override HAS_BIAS: bool = true;
override COUNT: bool = false;     // training: num_batches_tracked += 1 (by invocation 0)

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (COUNT && c == 0u) { num_batches_tracked[p.count_offset] += 1; }
  if (c >= p.C) { return; }
  var mean: f32;
  var invstd: f32;
  if (TRAINING) {
    var acc = partial[c * p.P];
    for (var i = 1u; i < p.P; i++) {
      let b = partial[c * p.P + i];
      let n = acc.x + b.x;
      if (b.x > 0.0) {
        let d = b.y - acc.y;
        let fb = b.x / n;
        acc = vec4<f32>(n, acc.y + d * fb, acc.z + b.z + d * d * acc.x * fb, 0.0);
      }
    }
    mean = acc.y;
    let variance = acc.z / p.M;
    invstd = 1.0 / sqrt(variance + p.eps);
    if (UPDATE_RUNNING) {
      let unbiased = acc.z / (p.M - 1.0);
      running_mean[p.rm_offset + c] = (1.0 - p.momentum) * running_mean[p.rm_offset + c] + p.momentum * mean;
      running_var[p.rv_offset + c] = (1.0 - p.momentum) * running_var[p.rv_offset + c] + p.momentum * unbiased;
    }
  } else {
    mean = running_mean[p.rm_offset + c];
    invstd = 1.0 / sqrt(running_var[p.rv_offset + c] + p.eps);
  }
  var scale = invstd;
  if (HAS_WEIGHT) { scale = weight[c] * invstd; }
  var shift = -mean * scale;
  if (HAS_BIAS) { shift += bias[c]; }
  stats[c] = vec4<f32>(mean, invstd, scale, shift);
}
