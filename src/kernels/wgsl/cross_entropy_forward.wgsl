// cross_entropy_forward.wgsl — per-row cross-entropy loss from logits, fused and numerically
// stable (log-sum-exp), with label smoothing and an optional ignored label. f32.
//
// Legend: logits (N, C) contiguous, N rows (samples) of C classes; labels (N) int32.
// For row n with label t, eps = label_smoothing:
//   lse  = m + log(sum_j exp(x_j - m)),  m = max_j x_j       (one online pass, see softmax_forward.wgsl)
//   loss = (1 - eps) * (lse - x_t) + eps * mean_j (lse - x_j)
//        = lse - (1 - eps) * x_t - eps / C * sum_j x_j
// A row whose label equals ignore_index (HAS_IGNORE) gets loss 0. A label outside [0, C) gets
// loss NaN (and cross_entropy_reduce.wgsl reports it). lse is saved for the backward pass.
// One invocation per row.
// Bindings: 0 logits (read), 1 labels (read, i32), 2 loss (write, N), 3 lse (write, N), 4 params.
// Reference: src/kernels/reference/cross-entropy.ts (crossEntropyRef). Launcher: src/kernels/cross-entropy.ts.

struct CrossEntropyParams {   // packed by packCrossEntropyParams(), same order
  N: u32,
  C: u32,
  smoothing: f32,
  ignore_index: i32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> lse: array<f32>;
@group(0) @binding(4) var<uniform> p: CrossEntropyParams;

override WG: u32 = 64u;
override HAS_IGNORE: bool = false;

const LOWEST: f32 = -0x1.fffffep+127f;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= p.N) { return; }
  let base = row * p.C;
  var m = LOWEST;
  var s = 0.0;
  var sum_x = 0.0;
  for (var j = 0u; j < p.C; j++) {
    let v = logits[base + j];
    sum_x += v;
    if (v > m) {
      s = s * exp(m - v) + 1.0;
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  let row_lse = m + log(s);
  lse[row] = row_lse;
  let t = labels[row];
  if (HAS_IGNORE && t == p.ignore_index) {
    loss[row] = 0.0;
  } else if (t < 0 || t >= i32(p.C)) {
    // NaN marks the row (the reduce kernel reports the bad label). Built at run time from a
    // `let`: WGSL rejects NaN as a constant expression.
    let nan_bits = 0x7fc00000u;
    loss[row] = bitcast<f32>(nan_bits);
  } else {
    let picked = logits[base + u32(t)];
    loss[row] = row_lse - (1.0 - p.smoothing) * picked - p.smoothing / f32(p.C) * sum_x;
  }
}
