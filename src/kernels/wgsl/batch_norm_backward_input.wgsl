// batch_norm_backward_input.wgsl — dx of batch norm, elementwise, NCHW f32, and the per-channel
// gradients dgamma and dbeta.
//
// With S1 = sum gy and S2 = sum gy * (x - mean) over the channel's M values (the P partials of
// batch_norm_backward_reduce.wgsl, added in order 0..P-1), invstd = stats[c].y, gamma = weight[c]
// (1 without weight) and xhat = (x - mean) * invstd:
//   dbeta  = S1
//   dgamma = invstd * S2                                   (= sum gy * xhat)
//   dx     = a * gy + b * (x - mean) + k, with
//     training (batch statistics):  a = gamma * invstd,  b = -a * invstd^2 * S2 / M,  k = -a * S1 / M
//       (PyTorch's formula dx = gamma * invstd / M * (M gy - S1 - xhat * sum gy xhat), regrouped)
//     eval (running statistics are constants):  a = gamma * invstd,  b = 0,  k = 0
// On a GPU each workgroup turns its channel's partials into (a, b, k, mean) itself (`channel`:
// P loads the whole workgroup shares), so no pass between the reduction and this one is needed
// -- a dispatch fewer per batch norm in every backward step, which is what a host-bound step (a
// small network on a GPU) pays for -- and the one workgroup that holds the channel's first
// plane of image 0 also writes dgamma and dbeta. On a CPU adapter (PRECOMPUTED) a dispatch
// costs little, and that per-workgroup arithmetic, done by every 8-lane row, made the pass up
// to 1.3x slower on lavapipe: `main_coefficients` (one invocation per channel) computes the
// coefficients first, into the partial buffer after the partials (index C * P + c), and writes
// dgamma and dbeta; it is also the whole backward's second pass when no dx is needed.
// HAS_SUMS is false when no partials were computed (eval, and neither weight nor bias needs a
// gradient). In eval without FUSE_RELU, x is not read.
// Grid as in batch_norm_forward.wgsl: workgroup (b, c, n) covers V * WG units of plane (n, c).
// A unit is an f32 (`main`) or a vec4 (`main_vec4`, S % 4 == 0, S counted in vec4s);
// `main_flat` (tiny planes) runs one invocation per f32 over a 1-D grid, channel = (i / S) % C;
// `main_split_vec4` (planes not a multiple of 4, e.g. 7x7) reads the flat tensor as vec4s, and
// `main_plane_groups` the same vec4s four planes per workgroup, the four channels' coefficients
// computed once per workgroup instead of per lane (see batch_norm_forward.wgsl).
// `main_plane_runs` (CPU adapters, planes of 128+ vec4s): RUN consecutive planes per workgroup
// in memory order, as in batch_norm_forward.wgsl.
// FUSE_RELU: gy is masked by the fused ReLU, select(0, gy, x * scale + shift > 0) with
// stats[c] = (mean, invstd, scale, shift), as in batch_norm_backward_reduce.wgsl.
// Bindings: 0 gy (read), 1 x (read), 2 partial (read_write, C*P vec4, then C vec4 of coefficients
// with PRECOMPUTED; written by main_coefficients only), 3 dx (write), 4 stats (read, C vec4),
// 5 params, 6 weight (read, C), 7 dweight (write, C), 8 dbias (write, C).
// Absent tensors are bound to small placeholder buffers and never touched.
// Reference: src/kernels/reference/batch-norm.ts (batchNormBackwardRef). Launcher: src/kernels/batch-norm.ts.

struct BackwardParams {   // packed by packBackwardParams() in src/kernels/batch-norm.ts
  C: u32,
  S: u32,                 // units per plane
  total: u32,             // N * C * S floats
  N: u32,                 // images (main_vec4's IMAGES loop)
  _p0: u32,
  M: f32,                 // values per channel, N * S
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(0) var<storage, read> gy4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> partial: array<vec4<f32>>;   // written by main_coefficients only
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: BackwardParams;
@group(0) @binding(6) var<storage, read> weight: array<f32>;
@group(0) @binding(7) var<storage, read_write> dweight: array<f32>;
@group(0) @binding(8) var<storage, read_write> dbias: array<f32>;

override WG: u32 = 256u;
override V: u32 = 1u;
override TRAINING: bool = true;
override FUSE_RELU: bool = false;
override HAS_SUMS: bool = true;
override HAS_WEIGHT: bool = true;
override WRITE_DWEIGHT: bool = false;
override WRITE_DBIAS: bool = false;
override PRECOMPUTED: bool = false;   // the coefficients come from main_coefficients (CPU adapters)
// Partials per channel, a constant: a loop to a run-time bound inside main_plane_runs' plane
// loop made the pass 1.3-1.6x slower on lavapipe (with the constant it is unrolled).
override PARTIALS: u32 = 1u;
override PLANE: u32 = 1u;     // main_split_vec4: S and C as constants (see batch_norm_forward.wgsl)
override CHANNELS: u32 = 1u;

// (S1, S2) of channel c: its P partials added in order.
fn channel_sums(c: u32) -> vec2<f32> {
  var sums = vec2<f32>(0.0);
  if (HAS_SUMS) {
    for (var i = 0u; i < PARTIALS; i++) { sums += partial[c * PARTIALS + i].xy; }
  }
  return sums;
}

// dx's coefficients (a, b, k, mean) of channel c, from its sums (see the header).
fn coefficients(c: u32, sums: vec2<f32>) -> vec4<f32> {
  let st = stats[c];
  let invstd = st.y;
  var gamma = 1.0;
  if (HAS_WEIGHT) { gamma = weight[c]; }
  let a = gamma * invstd;
  var b = 0.0;
  var k = 0.0;
  if (TRAINING) {
    b = -a * invstd * invstd * sums.y / p.M;
    k = -a * sums.x / p.M;
  }
  return vec4<f32>(a, b, k, st.x);
}

// dgamma and dbeta of channel c, by the one invocation that owns the channel.
fn param_grads(c: u32, sums: vec2<f32>) {
  if (WRITE_DWEIGHT) { dweight[c] = stats[c].y * sums.y; }
  if (WRITE_DBIAS) { dbias[c] = sums.x; }
}

// The coefficients of channel c; the invocation that `owns` the channel also writes its dgamma,
// dbeta (with PRECOMPUTED, main_coefficients did both).
fn channel(c: u32, owns: bool) -> vec4<f32> {
  if (PRECOMPUTED) { return partial[p.C * PARTIALS + c]; }
  let sums = channel_sums(c);
  if (owns) { param_grads(c, sums); }
  return coefficients(c, sums);
}

// One invocation per channel: dgamma, dbeta and (for the dx pass, PRECOMPUTED) the coefficients.
@compute @workgroup_size(WG)
fn main_coefficients(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.C) { return; }
  let sums = channel_sums(c);
  param_grads(c, sums);
  if (PRECOMPUTED) { partial[p.C * PARTIALS + c] = coefficients(c, sums); }
}

// gy masked by the fused ReLU: y = x * scale + shift > 0, as batch_norm_forward.wgsl computes y.
fn masked_gy(g: f32, xv: f32, st: vec4<f32>) -> f32 {
  if (FUSE_RELU) { return select(0.0, g, xv * st.z + st.w > 0.0); }
  return g;
}

fn masked_gy4(g: vec4<f32>, xv: vec4<f32>, st: vec4<f32>) -> vec4<f32> {
  if (FUSE_RELU) { return select(vec4<f32>(0.0), g, xv * st.z + st.w > vec4<f32>(0.0)); }
  return g;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let k = channel(wid.y, wid.x == 0u && wid.z == 0u && lid.x == 0u);
  let st = stats[wid.y];
  let base = (wid.z * p.C + wid.y) * p.S;
  for (var j = 0u; j < V; j++) {
    let s = (wid.x * V + j) * WG + lid.x;
    if (s < p.S) {
      let xv = x[base + s];               // unread (dead) in eval without FUSE_RELU
      var g = k.x * masked_gy(gy[base + s], xv, st);
      if (TRAINING) { g += k.y * (xv - k.w) + k.z; }
      dx[base + s] = g;
    }
  }
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let k = channel(wid.y, wid.x == 0u && wid.z == 0u && lid.x == 0u);
  let st = stats[wid.y];
  let n0 = wid.z * IMAGES;
  let n1 = min(p.N, n0 + IMAGES);   // a run-time bound (see batch_norm_forward.wgsl's main_vec4)
  for (var n = n0; n < n1; n++) {
    let base = (n * p.C + wid.y) * p.S;
    for (var j = 0u; j < V; j++) {
      let s = (wid.x * V + j) * WG + lid.x;
      if (s < p.S) {
        let xv = x4[base + s];
        var g = k.x * masked_gy4(gy4[base + s], xv, st);
        if (TRAINING) { g += k.y * (xv - k.w) + k.z; }
        dx4[base + s] = g;
      }
    }
  }
}

override RUN: u32 = 8u;   // main_plane_runs: planes per workgroup

@compute @workgroup_size(WG)
fn main_plane_runs(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  for (var r = 0u; r < RUN; r++) {
    let plane = wid.x * RUN + r;
    if (plane >= p.N * p.C) { return; }
    let c = plane % p.C;
    let k = channel(c, plane < p.C && lid.x == 0u);   // image 0's plane owns the channel
    let st = stats[c];
    let base = plane * p.S;
    for (var s = lid.x; s < p.S; s += WG) {
      let xv = x4[base + s];
      var g = k.x * masked_gy4(gy4[base + s], xv, st);
      if (TRAINING) { g += k.y * (xv - k.w) + k.z; }
      dx4[base + s] = g;
    }
  }
}

@compute @workgroup_size(WG)
fn main_flat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let plane = i / p.S;
  let c = plane % p.C;
  let k = channel(c, plane < p.C && i == plane * p.S);   // image 0's first float owns the channel
  let xv = x[i];
  var g = k.x * masked_gy(gy[i], xv, stats[c]);
  if (TRAINING) { g += k.y * (xv - k.w) + k.z; }
  dx[i] = g;
}

// Planes whose size is not a multiple of 4 as whole vec4s of the flat tensor; a vec4 may hold
// the end of one plane and the start of the next (see batch_norm_forward.wgsl).
@compute @workgroup_size(WG)
fn main_split_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i * 4u >= p.total) { return; }
  let first = i * 4u;
  let plane = first / PLANE;
  let next = vec4<u32>(first, first + 1u, first + 2u, first + 3u) >= vec4<u32>((plane + 1u) * PLANE);
  let c0 = plane % CHANNELS;
  let c1 = (plane + 1u) % CHANNELS;           // unused when the vec4 is in one plane
  // The vec4 holding the first float of plane c of image 0 owns channel c: plane c0's when the
  // vec4 starts it, else plane + 1's if that plane starts inside the vec4 (planes have >= 4 floats).
  let starts_here = first % PLANE == 0u;
  let k0 = channel(c0, starts_here && plane < CHANNELS);
  let k1 = channel(c1, !starts_here && any(next) && plane + 1u < CHANNELS);
  let xv = x4[i];
  var g = gy4[i];
  if (FUSE_RELU) {
    let st0 = stats[c0];
    let st1 = stats[c1];
    let y = xv * select(vec4<f32>(st0.z), vec4<f32>(st1.z), next) + select(vec4<f32>(st0.w), vec4<f32>(st1.w), next);
    g = select(vec4<f32>(0.0), g, y > vec4<f32>(0.0));
  }
  var r = select(vec4<f32>(k0.x), vec4<f32>(k1.x), next) * g;
  if (TRAINING) {
    r += select(vec4<f32>(k0.y), vec4<f32>(k1.y), next) * (xv - select(vec4<f32>(k0.w), vec4<f32>(k1.w), next)) +
         select(vec4<f32>(k0.z), vec4<f32>(k1.z), next);
  }
  dx4[i] = r;
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

override IMAGES: u32 = 1u;   // main_plane_groups: images per workgroup

// Workgroup (b, cg): channels 4 * cg .. 4 * cg + 3 of images b * IMAGES onwards, as in
// batch_norm_forward.wgsl's main_plane_groups.
@compute @workgroup_size(WG)
fn main_plane_groups(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let c = 4u * wid.y;
  let owns = wid.x == 0u && lid.x == 0u;
  let k0 = channel(c, owns);
  let k1 = channel(c + 1u, owns);
  let k2 = channel(c + 2u, owns);
  let k3 = channel(c + 3u, owns);
  var scales = vec4<f32>(0.0);
  var shifts = vec4<f32>(0.0);
  if (FUSE_RELU) {
    let st0 = stats[c];
    let st1 = stats[c + 1u];
    let st2 = stats[c + 2u];
    let st3 = stats[c + 3u];
    scales = vec4<f32>(st0.z, st1.z, st2.z, st3.z);
    shifts = vec4<f32>(st0.w, st1.w, st2.w, st3.w);
  }
  for (var l = lid.x; l < PLANE; l += WG) {
    // Each coefficient for this lane's four floats (component k for float k).
    let q = plane_in_group(l);
    let ka = pick_plane(vec4<f32>(k0.x, k1.x, k2.x, k3.x), q);
    let kb = pick_plane(vec4<f32>(k0.y, k1.y, k2.y, k3.y), q);
    let kk = pick_plane(vec4<f32>(k0.z, k1.z, k2.z, k3.z), q);
    let mean = pick_plane(vec4<f32>(k0.w, k1.w, k2.w, k3.w), q);
    let scale = pick_plane(scales, q);
    let shift = pick_plane(shifts, q);
    let n0 = wid.x * IMAGES;
    let n1 = min(p.N, n0 + IMAGES);   // a run-time bound, as in main_vec4
    for (var n = n0; n < n1; n++) {
      let i = (n * (CHANNELS / 4u) + wid.y) * PLANE + l;
      let xv = x4[i];
      var g = gy4[i];
      if (FUSE_RELU) { g = select(vec4<f32>(0.0), g, xv * scale + shift > vec4<f32>(0.0)); }
      var r = ka * g;
      if (TRAINING) { r += kb * (xv - mean) + kk; }
      dx4[i] = r;
    }
  }
}

// The whole training backward in one dispatch (CPU adapters; planes of whole vec4s): workgroup c
// owns channel c for the whole batch. It walks the channel's vec4s twice, once summing (S1, S2)
// as batch_norm_backward_reduce.wgsl's main_vec4 does with one chunk, lanes added in the same
// tree (so where that pass runs one chunk per channel with WG lanes, and planes are whole WG-lane
// rows, the sums are the same, bit for bit), then writing dx. Why: the three-dispatch path
// (reduce, main_coefficients, a dx pass) reads x and gy twice from memory; here the second walk
// finds the channel's x and gy (2 * N * S * 4 bytes; the launcher picks this pass only when that
// fits the core's L2 cache) still in the cache, and two dispatches and their partial buffer are
// saved. (The same for 7x7 plane groups, four channels per workgroup, measured no faster than
// their three dispatches: 2.7-3.3x relu's time either way on [32,512,7,7], [128,128,7,7].)
var<workgroup> channel_sums_tree: array<vec2<f32>, WG>;
var<workgroup> channel_coefficients: vec4<f32>;

@compute @workgroup_size(WG)
fn main_one_pass(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let l = lid.x;
  let c = wid.x;
  let st = stats[c];
  let mean = vec4<f32>(st.x);
  // 1. The lane's sums over vec4s l, l + WG, ... of each of the channel's planes.
  var sum_g = vec4<f32>(0.0);
  var sum_gx = vec4<f32>(0.0);
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + c) * p.S;
    for (var s = l; s < p.S; s += WG) {
      let xv = x4[base + s];
      let g = masked_gy4(gy4[base + s], xv, st);
      sum_g += g;
      sum_gx += g * (xv - mean);
    }
  }
  // 2. The lanes' sums in a fixed tree; lane 0 writes dgamma, dbeta and shares the coefficients.
  let one = vec4<f32>(1.0);
  channel_sums_tree[l] = vec2<f32>(dot(sum_g, one), dot(sum_gx, one));
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (l < width) { channel_sums_tree[l] = channel_sums_tree[l] + channel_sums_tree[l + width]; }
    workgroupBarrier();
  }
  if (l == 0u) {
    param_grads(c, channel_sums_tree[0]);
    channel_coefficients = coefficients(c, channel_sums_tree[0]);
  }
  let k = workgroupUniformLoad(&channel_coefficients);
  // 3. dx, walking the same vec4s again (now from the cache).
  for (var n = 0u; n < p.N; n++) {
    let base = (n * p.C + c) * p.S;
    for (var s = l; s < p.S; s += WG) {
      let xv = x4[base + s];
      var g = k.x * masked_gy4(gy4[base + s], xv, st);
      g += k.y * (xv - k.w) + k.z;           // training only: the launcher checks
      dx4[base + s] = g;
    }
  }
}
