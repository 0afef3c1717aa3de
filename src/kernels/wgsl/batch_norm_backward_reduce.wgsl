// batch_norm_backward_reduce.wgsl — per-channel partial sums for the batch-norm backward pass,
// NCHW f32, deterministic (fixed tree, no atomics).
//
// Legend as in batch_norm_stats.wgsl: gy and x are (N, C, S), S = H*W, M = N*S values per
// channel cut into P chunks; workgroup (p, c) folds chunk p. With mean = stats[c].x (the batch
// mean in training, the running mean in eval):
//   partial[c * P + p] = (sum gy, sum gy * (x - mean), 0, 0)    over the chunk
// batch_norm_backward_input.wgsl adds the P partials in order and turns them into
//   dbeta = sum gy,  dgamma = invstd * sum gy * (x - mean),  and the dx coefficients.
// Centring x on the mean before multiplying keeps the sum accurate when |mean| >> std.
// Entry points: `main` (one f32 per step) and `main_vec4` (S % 4 == 0: one vec4 per step,
// S counted in vec4s), and `main_split_vec4` for planes not a multiple of 4 (see there), or
// `main_plane_groups` for those, four channels per workgroup (as in batch_norm_stats.wgsl).
// Lanes walk (n, s) incrementally, as in batch_norm_stats.wgsl.
// FUSE_RELU (batch norm fused with a ReLU): gy is the gradient of relu(bn(x)). Each gy is masked
// to select(0, gy, y > 0) as it is loaded, y = x * scale + shift recomputed from the x this pass
// reads anyway and stats[c] = (mean, invstd, scale, shift) -- the same expression, and so the
// same bits, as batch_norm_forward.wgsl -- which is exactly what a separate reluBackward pass
// would have written: the sums (and their order) are the unfused ones, and the fused output
// need not be saved or read (two loads per element instead of three).
// Bindings: 0 gy (read), 1 x (read), 2 stats (read, C vec4), 3 partial (write), 4 params.
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
@group(0) @binding(4) var<uniform> p: StatsParams;

override WG: u32 = 256u;   // set by the launcher (BATCH_NORM_LAUNCH.reduceWG)
override FUSE_RELU: bool = false;
override PLANE: u32 = 1u;  // main_split_vec4: floats per plane (S)

// gy masked by the fused ReLU: y = x * scale + shift > 0, as batch_norm_forward.wgsl computes y.
fn masked_gy(g: f32, xv: f32, st: vec4<f32>) -> f32 {
  if (FUSE_RELU) { return select(0.0, g, xv * st.z + st.w > 0.0); }
  return g;
}

fn masked_gy4(g: vec4<f32>, xv: vec4<f32>, st: vec4<f32>) -> vec4<f32> {
  if (FUSE_RELU) { return select(vec4<f32>(0.0), g, xv * st.z + st.w > vec4<f32>(0.0)); }
  return g;
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
  let st = stats[c];
  let mean = st.x;
  let end = min((part + 1u) * p.chunk, p.total);
  var sum_g = 0.0;
  var sum_gx = 0.0;
  var u = part * p.chunk + lid;
  var n = u / p.S;
  var s = u % p.S;
  while (u < end) {
    let i = (n * p.C + c) * p.S + s;
    let xv = x[i];
    let g = masked_gy(gy[i], xv, st);
    sum_g += g;
    sum_gx += g * (xv - mean);
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
  let st = stats[c];
  let mean = vec4<f32>(st.x);
  let end = min((part + 1u) * p.chunk, p.total);
  var sum_g = vec4<f32>(0.0);
  var sum_gx = vec4<f32>(0.0);
  var u = part * p.chunk + lid;
  var n = u / p.S;
  var s = u % p.S;
  while (u < end) {
    let i = (n * p.C + c) * p.S + s;
    let xv = x4[i];
    let g = masked_gy4(gy4[i], xv, st);
    sum_g += g;
    sum_gx += g * (xv - mean);
    u += WG;
    s += p.step_s;
    n += p.step_n;
    if (s >= p.S) { s -= p.S; n += 1u; }
  }
  let one = vec4<f32>(1.0);
  reduce_and_store(lid, vec2<f32>(dot(sum_g, one), dot(sum_gx, one)), c, part);
}

// Planes that are not whole vec4s (7x7): every vec4 that touches plane (n, c), read whole, its
// floats of neighbouring planes masked out (as main_split_vec4 in batch_norm_stats.wgsl).
@compute @workgroup_size(WG)
fn main_split_vec4(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lid = lid3.x;
  let part = wid.x;
  let c = wid.y;
  let st = stats[c];
  let mean = vec4<f32>(st.x);
  let end = min((part + 1u) * p.chunk, p.total);
  var sum_g = vec4<f32>(0.0);
  var sum_gx = vec4<f32>(0.0);
  var u = part * p.chunk + lid;
  var n = u / p.S;
  var s = u % p.S;
  while (u < end) {
    let first = (n * p.C + c) * PLANE;
    let q = first / 4u + s;
    let at = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u);
    let inside = (at >= vec4<u32>(first)) & (at < vec4<u32>(first + PLANE));
    let xv = x4[q];
    let g = masked_gy4(gy4[q], xv, st);
    sum_g += select(vec4<f32>(0.0), g, inside);
    sum_gx += select(vec4<f32>(0.0), g * (xv - mean), inside);
    u += WG;
    s += p.step_s;
    n += p.step_n;
    if (s >= p.S) { s -= p.S; n += 1u; }
  }
  let one = vec4<f32>(1.0);
  reduce_and_store(lid, vec2<f32>(dot(sum_g, one), dot(sum_gx, one)), c, part);
}

// Which of the four planes of a group each float of the group's vec4 `l` lies in (0..3):
// (4 * l + k) / PLANE by comparisons, since a vector integer division is scalarised on llvmpipe.
fn plane_in_group(l: u32) -> vec4<u32> {
  let f = vec4<u32>(4u * l) + vec4<u32>(0u, 1u, 2u, 3u);
  return select(vec4<u32>(0u), vec4<u32>(1u), f >= vec4<u32>(PLANE)) +
         select(vec4<u32>(0u), vec4<u32>(1u), f >= vec4<u32>(2u * PLANE)) +
         select(vec4<u32>(0u), vec4<u32>(1u), f >= vec4<u32>(3u * PLANE));
}

// Per float, the value of `a` for the float's plane among the group's four (a.x for plane 0, ...).
fn pick_plane(a: vec4<f32>, q: vec4<u32>) -> vec4<f32> {
  let low = select(vec4<f32>(a.x), vec4<f32>(a.y), q == vec4<u32>(1u));
  let high = select(vec4<f32>(a.z), vec4<f32>(a.w), q == vec4<u32>(3u));
  return select(low, high, q >= vec4<u32>(2u));
}

// Planes that are not whole vec4s, four channels per workgroup (the layout of main_plane_groups
// in batch_norm_stats.wgsl, UNITS vec4s per lane for the same reason): lane l sums the group's
// vec4s l * UNITS .. l * UNITS + UNITS - 1 over the chunk's images, each float for its own
// channel; the lanes' sums are laid out in float order and lane j adds channel j's PLANE of them
// in order. p.N = images, p.chunk = images per chunk.
override UNITS: u32 = 1u;
var<workgroup> float_sums: array<vec2<f32>, 4 * PLANE>;

@compute @workgroup_size(WG)
fn main_plane_groups(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let l = lid3.x;
  let part = wid.x;
  let cg = wid.y;
  let first = l * UNITS;
  if (first < PLANE) {
    let st0 = stats[4u * cg];
    let st1 = stats[4u * cg + 1u];
    let st2 = stats[4u * cg + 2u];
    let st3 = stats[4u * cg + 3u];
    // Per vec4 of the lane (UNITS <= 8): its floats' mean, scale and shift; its two sums.
    var mean: array<vec4<f32>, 8>;
    var scale: array<vec4<f32>, 8>;
    var shift: array<vec4<f32>, 8>;
    var sum_g: array<vec4<f32>, 8>;
    var sum_gx: array<vec4<f32>, 8>;
    for (var k = 0u; k < UNITS; k++) {
      let q = plane_in_group(first + k);
      mean[k] = pick_plane(vec4<f32>(st0.x, st1.x, st2.x, st3.x), q);
      scale[k] = pick_plane(vec4<f32>(st0.z, st1.z, st2.z, st3.z), q);
      shift[k] = pick_plane(vec4<f32>(st0.w, st1.w, st2.w, st3.w), q);
    }
    let begin = part * p.chunk;
    let end = min(begin + p.chunk, p.N);
    for (var n = begin; n < end; n++) {
      let base = (n * (p.C / 4u) + cg) * PLANE + first;
      for (var k = 0u; k < UNITS; k++) {
        if (first + k < PLANE) {
          let xv = x4[base + k];
          var g = gy4[base + k];
          if (FUSE_RELU) { g = select(vec4<f32>(0.0), g, xv * scale[k] + shift[k] > vec4<f32>(0.0)); }
          sum_g[k] += g;
          sum_gx[k] += g * (xv - mean[k]);
        }
      }
    }
    for (var k = 0u; k < UNITS; k++) {
      let u = first + k;
      if (u < PLANE) {
        float_sums[4u * u] = vec2<f32>(sum_g[k].x, sum_gx[k].x);
        float_sums[4u * u + 1u] = vec2<f32>(sum_g[k].y, sum_gx[k].y);
        float_sums[4u * u + 2u] = vec2<f32>(sum_g[k].z, sum_gx[k].z);
        float_sums[4u * u + 3u] = vec2<f32>(sum_g[k].w, sum_gx[k].w);
      }
    }
  }
  workgroupBarrier();
  if (l < 4u) {
    var sums = vec2<f32>(0.0);
    for (var i = 0u; i < PLANE; i++) { sums += float_sums[l * PLANE + i]; }
    partial[(4u * cg + l) * p.P + part] = vec4<f32>(sums, 0.0, 0.0);
  }
}
