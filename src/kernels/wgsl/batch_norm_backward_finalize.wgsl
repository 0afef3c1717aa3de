// batch_norm_backward_finalize.wgsl — per-channel batch-norm gradients dgamma, dbeta and the
// coefficients of dx. One invocation per channel.
//
// With S1 = sum gy and S2 = sum gy * (x - mean) over the channel's M values (the P partials of
// batch_norm_backward_reduce.wgsl, added in order 0..P-1), invstd = stats[c].y, gamma = weight[c]
// (1 without weight) and xhat = (x - mean) * invstd:
//   dbeta  = S1
//   dgamma = invstd * S2                                   (= sum gy * xhat)
// dx = a * gy + b * (x - mean) + k, written by batch_norm_backward_input.wgsl, with
//   training (batch statistics):  a = gamma * invstd,  b = -a * invstd^2 * S2 / M,  k = -a * S1 / M
//     (PyTorch's formula dx = gamma * invstd / M * (M gy - S1 - xhat * sum gy xhat), regrouped)
//   eval (running statistics are constants):  a = gamma * invstd,  b = 0,  k = 0
//   coef[c] = (a, b, k, mean)
// HAS_SUMS is false when no partials were computed (eval, and neither weight nor bias needs a
// gradient): only coef is written.
// Bindings: 0 partial (read, C*P vec4), 1 stats (read, C vec4), 2 weight (read, C),
//           3 dweight (write, C), 4 dbias (write, C), 5 coef (write, C vec4), 6 params.
// Reference: src/kernels/reference/batch-norm.ts (batchNormBackwardRef). Launcher: src/kernels/batch-norm.ts.

struct BackwardFinalizeParams {
  C: u32,
  P: u32,
  M: f32,
  _p0: u32,
}

@group(0) @binding(0) var<storage, read> partial: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(4) var<storage, read_write> dbias: array<f32>;
@group(0) @binding(5) var<storage, read_write> coef: array<vec4<f32>>;
@group(0) @binding(6) var<uniform> p: BackwardFinalizeParams;

override WG: u32 = 64u;
override TRAINING: bool = true;
override HAS_SUMS: bool = true;
override HAS_WEIGHT: bool = true;
override WRITE_DWEIGHT: bool = true;
override WRITE_DBIAS: bool = true;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let st = stats[c];
  let mean = st.x;
  let invstd = st.y;
  var sums = vec2<f32>(0.0);
  if (HAS_SUMS) {
    for (var i = 0u; i < p.P; i++) { sums += partial[c * p.P + i].xy; }
  }
  if (WRITE_DWEIGHT) { dweight[c] = invstd * sums.y; }
  if (WRITE_DBIAS) { dbias[c] = sums.x; }
  var gamma = 1.0;
  if (HAS_WEIGHT) { gamma = weight[c]; }
  let a = gamma * invstd;
  var b = 0.0;
  var k = 0.0;
  if (TRAINING) {
    b = -a * invstd * invstd * sums.y / p.M;
    k = -a * sums.x / p.M;
  }
  coef[c] = vec4<f32>(a, b, k, mean);
}
