// batch_norm_backward_reduce.wgsl — per-channel partial sums for the batch-norm backward pass,
// NCHW f32, deterministic (fixed tree, no atomics).
//
// Legend as in batch_norm_stats.wgsl: gy and x are (N, C, S), S = H*W, M = N*S values per
// channel cut into P chunks; workgroup (p, c) folds chunk p. With mean = stats[c].x (the batch
// mean in training, the running mean in eval):
//   partial[c * P + p] = (sum gy, sum gy * (x - mean), 0, 0)    over the chunk
// batch_norm_backward_finalize.wgsl adds the P partials in order and turns them into
//   dbeta = sum gy,  dgamma = invstd * sum gy * (x - mean),  and the dx coefficients.
// Centring x on the mean before multiplying keeps the sum accurate when |mean| >> std.
// Entry points: `main` (one f32 per step) and `main_vec4` (S % 4 == 0: one vec4 per step,
// S counted in vec4s). Lanes walk (n, s) incrementally, as in batch_norm_stats.wgsl.
// FUSE_RELU (batch norm fused with a ReLU): gy is the gradient of relu(bn(x)) and `yout` that
// saved output; each gy is masked to select(0, gy, yout > 0) as it is loaded, which is exactly
// what a separate reluBackward pass would have written, so the sums (and their order) are the
// unfused ones. Without FUSE_RELU, yout is not read (the launcher binds gy there).
// Bindings: 0 gy (read), 1 x (read), 2 stats (read, C vec4), 3 partial (write), 4 yout (read),
// 5 params.
// Reference: src/kernels/reference/batch-norm.ts (batchNormBackwardRef). Launcher: src/kernels/batch-norm.ts.

struct StatsParams {      // the same struct as batch_norm_stats.wgsl (packChunkParams)
  N: u32,
  C: u32,
  S: u32,
  P: u32,
  chunk: u32,
  total: u32,
  step_n: u32,
  step_s: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(0) var<storage, read> gy4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> partial: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> yout: array<f32>;
@group(0) @binding(4) var<storage, read> yout4: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: StatsParams;

override WG: u32 = 256u;   // set by the launcher (BATCH_NORM_LAUNCH.reduceWG)
override FUSE_RELU: bool = false;

fn load_gy(i: u32) -> f32 {
  if (FUSE_RELU) { return select(0.0, gy[i], yout[i] > 0.0); }
  return gy[i];
}

fn load_gy4(i: u32) -> vec4<f32> {
  if (FUSE_RELU) { return select(vec4<f32>(0.0), gy4[i], yout4[i] > vec4<f32>(0.0)); }
  return gy4[i];
}

var<workgroup> tree: array<vec2<f32>, WG>;

fn reduce_and_store(lid: u32, sums: vec2<f32>, c: u32, part: u32) {
  tree[lid] = sums;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) { tree[lid] = tree[lid] + tree[lid + width]; }
    workgroupBarrier();
  }
  if (lid == 0u) { partial[c * p.P + part] = vec4<f32>(tree[0], 0.0, 0.0); }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lid = lid3.x;
  let part = wid.x;
  let c = wid.y;
  let mean = stats[c].x;
  let end = min((part + 1u) * p.chunk, p.total);
  var sum_g = 0.0;
  var sum_gx = 0.0;
  var u = part * p.chunk + lid;
  var n = u / p.S;
  var s = u % p.S;
  while (u < end) {
    let i = (n * p.C + c) * p.S + s;
    let g = load_gy(i);
    sum_g += g;
    sum_gx += g * (x[i] - mean);
    u += WG;
    s += p.step_s;
    n += p.step_n;
    if (s >= p.S) { s -= p.S; n += 1u; }
  }
  reduce_and_store(lid, vec2<f32>(sum_g, sum_gx), c, part);
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lid = lid3.x;
  let part = wid.x;
  let c = wid.y;
  let mean = vec4<f32>(stats[c].x);
  let end = min((part + 1u) * p.chunk, p.total);
  var sum_g = vec4<f32>(0.0);
  var sum_gx = vec4<f32>(0.0);
  var u = part * p.chunk + lid;
  var n = u / p.S;
  var s = u % p.S;
  while (u < end) {
    let i = (n * p.C + c) * p.S + s;
    let g = load_gy4(i);
    sum_g += g;
    sum_gx += g * (x4[i] - mean);
    u += WG;
    s += p.step_s;
    n += p.step_n;
    if (s >= p.S) { s -= p.S; n += 1u; }
  }
  let one = vec4<f32>(1.0);
  reduce_and_store(lid, vec2<f32>(dot(sum_g, one), dot(sum_gx, one)), c, part);
}
