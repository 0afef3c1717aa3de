// batch_norm_stats.wgsl — per-channel partial mean and variance for batch norm (training),
// NCHW f32, numerically stable (Welford) and deterministic (fixed merge order, no atomics).
//
// Legend: x is (N, C, S) — batch, channels, S = H*W positions per plane (all trailing dims
// flattened). Channel c holds M = N*S values, visited in (n, s) order. They are cut into P
// contiguous chunks; workgroup (p, c) folds chunk p:
//   1. lane l runs Welford's update over values l, l+WG, l+2WG, ... of the chunk,
//      keeping (count, mean, m2) where m2 = sum (v - mean)^2;
//   2. the WG lane states are merged pairwise in a fixed tree (Chan et al.'s formula:
//      n = na + nb, mean = ma + d*nb/n, m2 = m2a + m2b + d^2*na*nb/n with d = mb - ma).
//   partial[c * P + p] = (count, mean, m2, 0)
// batch_norm_forward.wgsl's finalize_channel merges the P partials of each channel in order 0..P-1.
// Welford never subtracts two large sums, so a channel with mean 1e4 and std 1 keeps its digits.
//
// Entry points (the launcher picks one): `main` reads one f32 per step; `main_vec4` (S % 4 == 0)
// reads one vec4 of a plane per step and keeps four Welford states per lane (they always see the
// same count). In main_vec4 every "unit" below is a vec4 and S is counted in vec4s.
// `main_split_vec4` (planes not a multiple of 4, 7x7) reads whole vec4s too, masking the floats
// of neighbouring planes; there S counts the vec4s that touch a plane.
// `main_plane_groups` (the same planes, C % 4 == 0; BatchNormGeometry.planeGroups) takes four
// channels per workgroup, read as whole aligned vec4s with nothing to mask (see there).
// Lanes walk their (n, s) position incrementally (s += WG % S, n += WG / S, carry), so the loop
// has no integer division.
// Bindings: 0 x (read), 1 partial (write), 2 params.
// Reference: src/kernels/reference/batch-norm.ts (batchNormForwardRef). Launcher: src/kernels/batch-norm.ts.

struct StatsParams {      // packed by packChunkParams() in src/kernels/batch-norm.ts
  N: u32,
  C: u32,
  S: u32,                 // units per plane (f32s, or vec4s in main_vec4)
  P: u32,                 // chunks (workgroups) per channel
  chunk: u32,             // units per chunk (the last one may be shorter)
  total: u32,             // N * S units per channel
  step_n: u32,            // WG / S
  step_s: u32,            // WG % S
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> partial: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: StatsParams;

override WG: u32 = 256u;   // set by the launcher (BATCH_NORM_LAUNCH.reduceWG)
override PLANE: u32 = 1u;  // main_split_vec4: floats per plane (S)

var<workgroup> tree: array<vec4<f32>, WG>;   // (count, mean, m2, unused) per lane

fn merge(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let n = a.x + b.x;
  if (b.x == 0.0) { return a; }
  if (a.x == 0.0) { return b; }
  let d = b.y - a.y;
  let fb = b.x / n;
  return vec4<f32>(n, a.y + d * fb, a.z + b.z + d * d * a.x * fb, 0.0);
}

// Steps 2: tree merge of the lane states, lane 0 writes the chunk's partial.
fn reduce_and_store(lid: u32, state: vec4<f32>, c: u32, part: u32) {
  tree[lid] = state;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) { tree[lid] = merge(tree[lid], tree[lid + width]); }
    workgroupBarrier();
  }
  if (lid == 0u) { partial[c * p.P + part] = tree[0]; }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lid = lid3.x;
  let part = wid.x;
  let c = wid.y;
  let begin = part * p.chunk;
  let end = min(begin + p.chunk, p.total);
  var count = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  var u = begin + lid;
  var n = u / p.S;
  var s = u % p.S;
  while (u < end) {
    let v = x[(n * p.C + c) * p.S + s];
    count += 1.0;
    let d = v - mean;
    mean += d / count;
    m2 += d * (v - mean);
    u += WG;
    s += p.step_s;
    n += p.step_n;
    if (s >= p.S) { s -= p.S; n += 1u; }
  }
  reduce_and_store(lid, vec4<f32>(count, mean, m2, 0.0), c, part);
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lid = lid3.x;
  let part = wid.x;
  let c = wid.y;
  let begin = part * p.chunk;
  let end = min(begin + p.chunk, p.total);
  var count = 0.0;                 // values seen by each of the four states
  var mean = vec4<f32>(0.0);
  var m2 = vec4<f32>(0.0);
  var u = begin + lid;
  var n = u / p.S;
  var s = u % p.S;
  while (u < end) {
    let v = x4[(n * p.C + c) * p.S + s];
    count += 1.0;
    let d = v - mean;
    mean += d / count;
    m2 += d * (v - mean);
    u += WG;
    s += p.step_s;
    n += p.step_n;
    if (s >= p.S) { s -= p.S; n += 1u; }
  }
  // Merge the four equal-count states: mean of means, m2 plus the spread of the means.
  let m = (mean.x + mean.y + mean.z + mean.w) * 0.25;
  let dm = mean - vec4<f32>(m);
  let q = m2.x + m2.y + m2.z + m2.w + count * dot(dm, dm);
  reduce_and_store(lid, vec4<f32>(4.0 * count, m, q, 0.0), c, part);
}

// Planes that are not whole vec4s (7x7 = 49 floats): the s-th unit of plane (n, c) is the s-th
// vec4 that touches it (p.S of them at most), read whole; its elements outside the plane belong
// to the neighbouring planes and are masked out. The four Welford states then see different
// counts, so they are merged with merge() rather than as equals.
@compute @workgroup_size(WG)
fn main_split_vec4(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let lid = lid3.x;
  let part = wid.x;
  let c = wid.y;
  let begin = part * p.chunk;
  let end = min(begin + p.chunk, p.total);
  var count = vec4<f32>(0.0);
  var mean = vec4<f32>(0.0);
  var m2 = vec4<f32>(0.0);
  var u = begin + lid;
  var n = u / p.S;
  var s = u % p.S;
  while (u < end) {
    let first = (n * p.C + c) * PLANE;          // the plane's first float
    let q = first / 4u + s;
    let at = vec4<u32>(4u * q) + vec4<u32>(0u, 1u, 2u, 3u);
    let inside = (at >= vec4<u32>(first)) & (at < vec4<u32>(first + PLANE));
    let v = x4[q];
    count += select(vec4<f32>(0.0), vec4<f32>(1.0), inside);
    let d = v - mean;
    mean = select(mean, mean + d / max(count, vec4<f32>(1.0)), inside);
    m2 = select(m2, m2 + d * (v - mean), inside);
    u += WG;
    s += p.step_s;
    n += p.step_n;
    if (s >= p.S) { s -= p.S; n += 1u; }
  }
  let state = merge(merge(vec4<f32>(count.x, mean.x, m2.x, 0.0), vec4<f32>(count.y, mean.y, m2.y, 0.0)),
                    merge(vec4<f32>(count.z, mean.z, m2.z, 0.0), vec4<f32>(count.w, mean.w, m2.w, 0.0)));
  reduce_and_store(lid, state, c, part);
}

// Planes that are not whole vec4s, four channels per workgroup. In every image the planes of
// channels 4 * cg .. 4 * cg + 3 are one group of 4 * PLANE floats = PLANE vec4s, 16-byte aligned.
// Workgroup (part, cg) reads the group in images part * chunk onwards (chunk images, p.chunk);
// lane l always reads the group's vec4s l * UNITS .. l * UNITS + UNITS - 1, and float k of vec4 u
// lies in channel 4 * cg + (4 * u + k) / PLANE. So each of a lane's Welford states (one per
// float, all with the same count) belongs to one channel, and nothing is masked. The lanes'
// states are then laid out in float order: channel j's are the PLANE states from j * PLANE on,
// merged by lane j (merge_equal_counts). Here p.N = images, p.chunk = images per chunk; p.S,
// p.total and the steps are unused.
// Why UNITS vec4s per lane (8 on CPU adapters, BATCH_NORM_LAUNCH.planeGroupUnits): each image's
// group is 100 KB from the next one at [32, 512, 7, 7], and llvmpipe runs a workgroup's 8-lane
// rows one after another; with one vec4 per lane a row read 128 bytes per image and waited on
// memory, with 8 it reads 1 KB (~1.2x faster; same arithmetic per float, so the same bits).
override UNITS: u32 = 1u;
var<workgroup> float_states: array<vec4<f32>, 4 * PLANE>;   // (count, mean, m2, unused) per float

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

@compute @workgroup_size(WG)
fn main_plane_groups(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let l = lid3.x;
  let part = wid.x;
  let cg = wid.y;
  let first = l * UNITS;
  if (first < PLANE) {
    let begin = part * p.chunk;
    let end = min(begin + p.chunk, p.N);
    var count = 0.0;
    var mean: array<vec4<f32>, 8>;   // per vec4 of the lane (UNITS <= 8)
    var m2: array<vec4<f32>, 8>;
    for (var n = begin; n < end; n++) {
      let base = (n * (p.C / 4u) + cg) * PLANE + first;
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
  if (l < 4u) {
    partial[(4u * cg + l) * p.P + part] = merge_equal_counts(l * PLANE);
  }
}
