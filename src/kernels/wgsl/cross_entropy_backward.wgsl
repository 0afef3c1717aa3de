// cross_entropy_backward.wgsl — gradient of cross-entropy w.r.t. the logits, fused, f32.
//
// Legend as in cross_entropy_forward.wgsl. With p_j = exp(x_j - lse) (the softmax, recomputed
// from the saved lse) and eps = label_smoothing:
//   dlogits[n, j] = g_n * (p_j - (1 - eps) * [j == t_n] - eps / C)
//   g_n = gy[n]                        reduction 'none'   (REDUCTION = 0)
//       = gy[0]                        reduction 'sum'    (REDUCTION = 1)
//       = gy[0] / valid                reduction 'mean'   (REDUCTION = 2; valid = report[3])
// and 0 for ignored rows (HAS_IGNORE and t_n == ignore_index).
// One invocation per logit.
// Bindings: 0 logits (read), 1 labels (read, i32), 2 lse (read, N), 3 gy (read), 4 report (read, i32),
//           5 dlogits (write), 6 params.
// Reference: src/kernels/reference/cross-entropy.ts (crossEntropyBackwardRef). Launcher: src/kernels/cross-entropy.ts.

struct CrossEntropyParams {
  N: u32,
  C: u32,
  smoothing: f32,
  ignore_index: i32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> gy: array<f32>;
@group(0) @binding(4) var<storage, read> report: array<i32>;
@group(0) @binding(5) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(6) var<uniform> p: CrossEntropyParams;

override WG: u32 = 256u;
override HAS_IGNORE: bool = false;
override REDUCTION: u32 = 2u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * p.C) { return; }
  let row = i / p.C;
  let j = i % p.C;
  let t = labels[row];
  if (HAS_IGNORE && t == p.ignore_index) {
    dlogits[i] = 0.0;
    return;
  }
  var g: f32;
  switch REDUCTION {
    case 0u: { g = gy[row]; }
    case 1u: { g = gy[0]; }
    default: { g = gy[0] / f32(report[3]); }
  }
  let prob = exp(logits[i] - lse[row]);
  let onehot = select(0.0, 1.0 - p.smoothing, i32(j) == t);
  dlogits[i] = g * (prob - onehot - p.smoothing / f32(p.C));
}
