// batch_norm_forward_one_pass.wgsl — batch norm's training forward in one dispatch: the
// statistics, the running-statistics update and y, NCHW f32. `main`: planes that are not whole
// vec4s (7x7), four channels per workgroup; `main_vec4`: planes of whole vec4s, one channel per
// workgroup (see there).
//
// Legend: x, y are (N, C, S), S = H*W = PLANE floats per plane; C % 4 == 0.
// The three-dispatch path reads x twice from memory: batch_norm_stats.wgsl, then
// batch_norm_forward.wgsl's main_finalize and its apply pass. Here workgroup cg owns channels 4 * cg .. 4 * cg + 3 for
// the whole batch, N * 4 * PLANE floats (N * 784 bytes for 7x7): small enough to stay in the
// CPU's cache between its two reads, so x comes from memory once and the layer costs one
// dispatch instead of three. The launcher picks it on CPU adapters when that block is small.
//
// The layout is main_plane_groups's (batch_norm_stats.wgsl): in every image the four channels'
// planes are one group of PLANE aligned vec4s, and float k of the group's vec4 l always lies in
// plane (4 * l + k) / PLANE. Three steps, each the same arithmetic, in the same order, as the
// three-dispatch path with one chunk per channel, so the results are the same bit for bit:
//   1. lane l runs a Welford update per float of its vec4s l * UNITS .. l * UNITS + UNITS - 1 over
//      the N images (UNITS per lane: see batch_norm_stats.wgsl's main_plane_groups); the lanes'
//      states are laid out in float order and lane j < 4 merges channel j's PLANE of them;
//   2. lane j finalizes channel 4 * cg + j as batch_norm_forward.wgsl's finalize_channel does (var = m2 / M,
//      invstd, the in-place running-statistics update, scale and shift) and writes stats[c];
//   3. every lane applies y = x * scale + shift (max(., 0) with FUSE_RELU) to its vec4s in each
//      image, reading x again, now from the cache.
// Bindings: 0 x (read, as vec4s), 1 weight (read, C), 2 bias (read, C), 3 running_mean
// (read_write, C), 4 running_var (read_write, C), 5 stats (write, C vec4: mean, invstd, scale,
// shift), 6 y (write, as vec4s), 7 num_batches_tracked (read_write, i32), 8 params.
// Absent tensors are bound to small placeholder buffers and never read.
// Reference: src/kernels/reference/batch-norm.ts (batchNormForwardRef). Launcher: src/kernels/batch-norm.ts.

struct OnePassParams {    // packed by batchNormForward() in src/kernels/batch-norm.ts
  N: u32,
  C: u32,
  M: f32,                 // values per channel, N * S
  eps: f32,
  momentum: f32,
  rm_offset: u32,         // element offsets of the running tensors in their buffers (views)
  rv_offset: u32,
  count_offset: u32,      // element offset of num_batches_tracked in its buffer
  S4: u32,                // main_vec4: vec4s per plane (S / 4)
  step_n: u32,            // main_vec4: WG / S4 and WG % S4, the lanes' stride in (n, s)
  step_s: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weight: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(4) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(5) var<storage, read_write> stats: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> num_batches_tracked: array<i32>;
@group(0) @binding(8) var<uniform> p: OnePassParams;

override WG: u32 = 8u;           // main: ceil(PLANE / UNITS) rounded up to whole 8-lane SIMD rows
override PLANE: u32 = 49u;       // main: floats per plane (S), not a multiple of 4
override UNITS: u32 = 8u;        // main: vec4s of the group per lane (<= 8), as in batch_norm_stats.wgsl
override UPDATE_RUNNING: bool = true;
override HAS_WEIGHT: bool = true;
override HAS_BIAS: bool = true;
override COUNT: bool = false;    // num_batches_tracked += 1 (by workgroup 0, lane 0)
override FUSE_RELU: bool = false;

var<workgroup> float_states: array<vec4<f32>, 4 * PLANE>;   // (count, mean, m2, unused) per float
var<workgroup> coefficients: array<vec2<f32>, 4>;        // (scale, shift) of the group's channels
var<workgroup> tree: array<vec4<f32>, WG>;               // main_vec4: (count, mean, m2, unused) per lane

// Chan et al.'s merge of two Welford states (count, mean, m2), as in batch_norm_stats.wgsl.
fn merge(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let n = a.x + b.x;
  if (b.x == 0.0) { return a; }
  if (a.x == 0.0) { return b; }
  let d = b.y - a.y;
  let fb = b.x / n;
  return vec4<f32>(n, a.y + d * fb, a.z + b.z + d * d * a.x * fb, 0.0);
}

// The PLANE states of one channel, from float_states[first] on, all have the same count n (every
// lane saw every image of the chunk), so Chan's merge simplifies: the mean is the mean of the
// means, m2 the sum of the m2s plus n times the squared spread of the means around it. Two short
// loops of adds instead of PLANE - 1 dependent merges with a division each.
fn merge_equal_counts(first: u32) -> vec4<f32> {
  let n = float_states[first].x;
  var sum = 0.0;
  for (var i = 0u; i < PLANE; i++) { sum += float_states[first + i].y; }
  let mean = sum / f32(PLANE);
  var m2 = 0.0;
  var spread = 0.0;
  for (var i = 0u; i < PLANE; i++) {
    let s = float_states[first + i];
    let d = s.y - mean;
    m2 += s.z;
    spread += d * d;
  }
  return vec4<f32>(n * f32(PLANE), mean, m2 + n * spread, 0.0);
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

// Step 2 for channel c from its merged state: batch_norm_forward.wgsl's finalize_channel, training branch.
fn finalize(c: u32, acc: vec4<f32>) -> vec2<f32> {
  let mean = acc.y;
  let variance = acc.z / p.M;
  let invstd = 1.0 / sqrt(variance + p.eps);
  if (UPDATE_RUNNING) {
    let unbiased = acc.z / (p.M - 1.0);
    running_mean[p.rm_offset + c] = (1.0 - p.momentum) * running_mean[p.rm_offset + c] + p.momentum * mean;
    running_var[p.rv_offset + c] = (1.0 - p.momentum) * running_var[p.rv_offset + c] + p.momentum * unbiased;
  }
  var scale = invstd;
  if (HAS_WEIGHT) { scale = weight[c] * invstd; }
  var shift = -mean * scale;
  if (HAS_BIAS) { shift += bias[c]; }
  stats[c] = vec4<f32>(mean, invstd, scale, shift);
  return vec2<f32>(scale, shift);
}

fn act4(v: vec4<f32>) -> vec4<f32> { return select(v, max(v, vec4<f32>(0.0)), FUSE_RELU); }

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let l = lid3.x;
  let cg = wid.x;
  let groups = p.C / 4u;
  let first = l * UNITS;
  // 1. Welford per float over the batch.
  if (first < PLANE) {
    var count = 0.0;
    var mean: array<vec4<f32>, 8>;   // per vec4 of the lane (UNITS <= 8)
    var m2: array<vec4<f32>, 8>;
    for (var n = 0u; n < p.N; n++) {
      let base = (n * groups + cg) * PLANE + first;
      count += 1.0;
      for (var k = 0u; k < UNITS; k++) {
        if (first + k < PLANE) {
          let v = x4[base + k];
          let d = v - mean[k];
          mean[k] += d / count;
          m2[k] += d * (v - mean[k]);
        }
      }
    }
    for (var k = 0u; k < UNITS; k++) {
      let u = first + k;
      if (u < PLANE) {
        float_states[4u * u] = vec4<f32>(count, mean[k].x, m2[k].x, 0.0);
        float_states[4u * u + 1u] = vec4<f32>(count, mean[k].y, m2[k].y, 0.0);
        float_states[4u * u + 2u] = vec4<f32>(count, mean[k].z, m2[k].z, 0.0);
        float_states[4u * u + 3u] = vec4<f32>(count, mean[k].w, m2[k].w, 0.0);
      }
    }
  }
  workgroupBarrier();
  // 2. Each channel's states merged in order and finalized.
  if (l < 4u) {
    coefficients[l] = finalize(4u * cg + l, merge_equal_counts(l * PLANE));
  }
  if (COUNT && cg == 0u && l == 0u) { num_batches_tracked[p.count_offset] += 1; }
  workgroupBarrier();
  // 3. y = x * scale + shift, x read again (from the cache).
  if (first < PLANE) {
    let scales = vec4<f32>(coefficients[0].x, coefficients[1].x, coefficients[2].x, coefficients[3].x);
    let shifts = vec4<f32>(coefficients[0].y, coefficients[1].y, coefficients[2].y, coefficients[3].y);
    var scale: array<vec4<f32>, 8>;
    var shift: array<vec4<f32>, 8>;
    for (var k = 0u; k < UNITS; k++) {
      let q = plane_in_group(first + k);
      scale[k] = pick_plane(scales, q);
      shift[k] = pick_plane(shifts, q);
    }
    for (var n = 0u; n < p.N; n++) {
      let base = (n * groups + cg) * PLANE + first;
      for (var k = 0u; k < UNITS; k++) {
        if (first + k < PLANE) { y4[base + k] = act4(x4[base + k] * scale[k] + shift[k]); }
      }
    }
  }
}

// Planes of whole vec4s (S % 4 == 0), one channel per workgroup (workgroup c), the channel's N
// planes small enough for the cache (the launcher checks). The statistics pass of
// batch_norm_stats.wgsl's main_vec4 with one chunk: lane l walks vec4s l, l + WG, ... of the
// channel in (n, s) order, keeping four Welford states of equal count; they are merged into the
// lane's state, the lanes' states in a fixed tree; lane 0 finalizes; then every lane walks the
// same vec4s again to write y.
@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let l = lid3.x;
  let c = wid.x;
  let total = p.N * p.S4;
  var count = 0.0;
  var mean = vec4<f32>(0.0);
  var m2 = vec4<f32>(0.0);
  var u = l;
  var n = u / p.S4;
  var s = u % p.S4;
  while (u < total) {
    let v = x4[(n * p.C + c) * p.S4 + s];
    count += 1.0;
    let d = v - mean;
    mean += d / count;
    m2 += d * (v - mean);
    u += WG;
    s += p.step_s;
    n += p.step_n;
    if (s >= p.S4) { s -= p.S4; n += 1u; }
  }
  // The four equal-count states: mean of means, m2 plus the spread of the means.
  let m = (mean.x + mean.y + mean.z + mean.w) * 0.25;
  let dm = mean - vec4<f32>(m);
  tree[l] = vec4<f32>(4.0 * count, m, m2.x + m2.y + m2.z + m2.w + count * dot(dm, dm), 0.0);
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (l < width) { tree[l] = merge(tree[l], tree[l + width]); }
    workgroupBarrier();
  }
  if (l == 0u) {
    coefficients[0] = finalize(c, tree[0]);
    if (COUNT && c == 0u) { num_batches_tracked[p.count_offset] += 1; }
  }
  workgroupBarrier();
  let scale = vec4<f32>(coefficients[0].x);
  let shift = vec4<f32>(coefficients[0].y);
  u = l;
  n = u / p.S4;
  s = u % p.S4;
  while (u < total) {
    let i = (n * p.C + c) * p.S4 + s;
    y4[i] = act4(x4[i] * scale + shift);
    u += WG;
    s += p.step_s;
    n += p.step_n;
    if (s >= p.S4) { s -= p.S4; n += 1u; }
  }
}
