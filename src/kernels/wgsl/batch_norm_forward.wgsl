// batch_norm_forward.wgsl — apply batch norm: y = x * scale[c] + shift[c], NCHW f32.
//
// x, y: (N, C, S), S = H*W; stats: (C) vec4 (mean, invstd, scale, shift) from `finalize_channel`
// (below), which folds mean, invstd, weight and bias into one multiply-add.
// Grid: workgroup (b, c, n) covers V * WG units of plane (n, c), starting at unit b * V * WG;
// lane l handles units l, l + WG, ..., so the channel comes from the grid, not from dividing
// the flat index (integer division is scalarised by llvmpipe and cost 3x here).
// A unit is an f32 (`main`) or, when S % 4 == 0, a vec4 (`main_vec4`; S then counts vec4s).
// Tiny planes (S < 16, e.g. (N, C) inputs where S = 1) would leave most lanes idle in that
// grid: `main_flat` runs one invocation per f32 over a 1-D grid, channel = (i / S) % C.
// Planes whose size is not a multiple of 4 (7x7 = 49 floats: the last stage of an ImageNet
// ResNet) would get scalar loads and a 64-lane workgroup for 49 units: `main_split_vec4` reads
// the whole tensor as vec4s instead (N * C * S % 4 == 0, S >= 4). A vec4 then holds elements of
// at most two planes; each lane fetches both planes' statistics and picks per element.
// On a CPU adapter those per-lane gathers of two planes' statistics, and many small workgroups,
// cost more than the data's own loads: `main_plane_groups` (same planes, C % 4 == 0) takes four
// channels per workgroup. In every image their planes are one group of 4 * S floats = S vec4s
// that starts 16-byte aligned; float k of the group's vec4 l always lies in plane (4 * l + k) / S
// of the group, so lane l picks its four floats' statistics once and applies them to its vec4
// in IMAGES images.
// On a CPU adapter, planes of 128+ vec4s (28x28 and larger) go faster the other way round:
// `main_plane_runs` gives each workgroup RUN consecutive planes of the flat (n, c) order -- one
// stretch of memory, as an elementwise kernel walks it -- instead of one plane (or one channel's
// planes in several images, 256 KB apart at 32x32 x 64 channels); see the entry point.
// FUSE_RELU (F.batchNorm's `relu` option): y = max(x * scale + shift, 0) in the same pass, so a
// BatchNorm + ReLU pair costs one read and one write of the tensor instead of two each.
// HAS_RESIDUAL (F.batchNorm's `residual` option): y = x * scale + shift + residual (then the ReLU),
// the end of a residual block in one pass instead of this pass and an add + ReLU pass.
// The statistics themselves (batch_norm_stats.wgsl's partial sums, or the running statistics in
// eval) become stats[c] = (mean, invstd, scale, shift) in `finalize_channel`: one invocation per
// channel in `main_finalize`, a dispatch between the reduction and this pass -- or, where the
// device offers 10 storage bindings (BatchNormGeometry.finalizeInApply), inside the apply pass
// itself (the *_finalize entry points): each workgroup finalizes the channels it applies, and
// the one that holds image 0's plane of a channel also stores its stats[c] (for the backward)
// and updates the running statistics. A training forward is then two dispatches, an eval
// forward one, instead of three and two; on a GPU, where a small network's step is bound by the
// host's ~20-40 us per dispatch, that is what counts. On lavapipe, where every 8-lane row of a
// workgroup repeats the finalize arithmetic and a dispatch costs little, only the eval forward
// takes it (BATCH_NORM_LAUNCH.finalizeInApply in src/kernels/batch-norm.ts).
// Training (TRAINING): merge the P partial (count, mean, m2) states of channel c in order 0..P-1
// (deterministic), then var = m2 / M (biased, used to normalise), invstd = 1 / sqrt(var + eps),
// and with UPDATE_RUNNING update the running statistics in place exactly as PyTorch does:
//   running_mean = (1 - momentum) * running_mean + momentum * mean
//   running_var  = (1 - momentum) * running_var  + momentum * var * M / (M - 1)   (unbiased)
// Eval: mean = running_mean[c], invstd = 1 / sqrt(running_var[c] + eps). In both modes
//   scale = weight[c] * invstd (weight = 1 without HAS_WEIGHT), shift = bias[c] - mean * scale.
// With COUNT (a BatchNorm module training) the owner of channel 0 adds 1 to num_batches_tracked,
// as torch's module does on every training forward; the counter stays on the GPU.
// Bindings: 0 x (read), 1 stats (read; written by main_finalize and the *_finalize entry points),
// 2 y (write), 3 params, 4 residual (read, x's layout; x again when there is none), 5 partial
// (read, C*P vec4), 6 weight (read, C), 7 bias (read, C), 8 running_mean (read_write, C),
// 9 running_var (read_write, C), 10 num_batches_tracked (read_write, i32). main_finalize uses 1
// and 3 and 5-10; the *_finalize entry points all; the others 0-4. Absent tensors are bound to
// small placeholder buffers and never read.
// Reference: src/kernels/reference/batch-norm.ts (batchNormForwardRef). Launcher: src/kernels/batch-norm.ts.

struct ApplyParams {      // packed by packApplyParams() in src/kernels/batch-norm.ts
  C: u32,
  S: u32,                 // units per plane
  total: u32,             // N * C * S floats
  N: u32,                 // images (main_vec4's IMAGES loop)
  _p0: u32,
  M: f32,                 // values per channel, N * H * W
  eps: f32,
  momentum: f32,
  rm_offset: u32,         // element offsets of the running tensors in their buffers (views)
  rv_offset: u32,
  count_offset: u32,      // element offset of num_batches_tracked in its buffer
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ApplyParams;
@group(0) @binding(4) var<storage, read> residual: array<f32>;
@group(0) @binding(4) var<storage, read> residual4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> stats_out: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read> partial: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> weight: array<f32>;
@group(0) @binding(7) var<storage, read> bias: array<f32>;
@group(0) @binding(8) var<storage, read_write> running_mean: array<f32>;
@group(0) @binding(9) var<storage, read_write> running_var: array<f32>;
@group(0) @binding(10) var<storage, read_write> num_batches_tracked: array<i32>;

override WG: u32 = 256u;
override V: u32 = 1u;     // units per invocation
override FUSE_RELU: bool = false;
override HAS_RESIDUAL: bool = false;
override PLANE: u32 = 1u;     // main_split_vec4: floats per plane (S) and channels (C), as
override CHANNELS: u32 = 1u;  // constants so that dividing by them compiles to multiplies
override TRAINING: bool = true;        // finalize_channel: batch statistics (else running ones)
override UPDATE_RUNNING: bool = true;
override HAS_WEIGHT: bool = true;
override HAS_BIAS: bool = true;
override COUNT: bool = false;          // training: num_batches_tracked += 1
// Partials per channel (training), a constant: a loop to a run-time bound inside the plane loop
// of main_plane_runs_finalize made that pass 1.3-1.6x slower on lavapipe.
override PARTIALS: u32 = 1u;

// stats[c] = (mean, invstd, scale, shift) of channel c (see the header). The invocation that
// `owns` the channel stores it and updates the running statistics (and the counter, for c = 0).
fn finalize_channel(c: u32, owns: bool) -> vec4<f32> {
  var mean: f32;
  var invstd: f32;
  if (TRAINING) {
    var acc = partial[c * PARTIALS];
    for (var i = 1u; i < PARTIALS; i++) {
      let b = partial[c * PARTIALS + i];
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
    if (UPDATE_RUNNING && owns) {
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
  let st = vec4<f32>(mean, invstd, scale, shift);
  if (owns) {
    stats_out[c] = st;
    if (TRAINING && COUNT && c == 0u) { num_batches_tracked[p.count_offset] += 1; }
  }
  return st;
}

// One invocation per channel: the statistics alone (before one of the plain apply entry points).
@compute @workgroup_size(WG)
fn main_finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
  if (gid.x < p.C) { _ = finalize_channel(gid.x, true); }
}

// The epilogue of y[i] = v: the residual at the same index, then the ReLU.
fn act(v: f32, i: u32) -> f32 {
  var r = v;
  if (HAS_RESIDUAL) { r += residual[i]; }
  return select(r, max(r, 0.0), FUSE_RELU);
}
fn act4(v: vec4<f32>, i: u32) -> vec4<f32> {
  var r = v;
  if (HAS_RESIDUAL) { r += residual4[i]; }
  return select(r, max(r, vec4<f32>(0.0)), FUSE_RELU);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let st = stats[wid.y];
  let base = (wid.z * p.C + wid.y) * p.S;
  for (var k = 0u; k < V; k++) {
    let s = (wid.x * V + k) * WG + lid.x;
    if (s < p.S) { y[base + s] = act(x[base + s] * st.z + st.w, base + s); }
  }
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  apply_vec4(lid, wid, stats[wid.y]);
}

@compute @workgroup_size(WG)
fn main_vec4_finalize(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  apply_vec4(lid, wid, finalize_channel(wid.y, wid.x == 0u && wid.z == 0u && lid.x == 0u));
}

fn apply_vec4(lid: vec3<u32>, wid: vec3<u32>, st: vec4<f32>) {
  // The images' loop runs to a bound known only at run time: with `j < IMAGES` (a constant)
  // and a break, Mesa unrolled it, and the unrolled pass ran 1.2-1.7x slower on lavapipe.
  let n0 = wid.z * IMAGES;
  let n1 = min(p.N, n0 + IMAGES);
  for (var n = n0; n < n1; n++) {
    let base = (n * p.C + wid.y) * p.S;
    for (var k = 0u; k < V; k++) {
      let s = (wid.x * V + k) * WG + lid.x;
      if (s < p.S) { y4[base + s] = act4(x4[base + s] * st.z + st.w, base + s); }
    }
  }
}

// Workgroup w: planes w * RUN .. w * RUN + RUN - 1 of the N * C planes in memory order, lanes
// walking each plane. A plane's channel (plane % C) is the same for every lane, so its
// statistics are one load for the workgroup, not a gather per lane. On lavapipe (two 32x32 and
// 56x56 shapes, interleaved GPU-timestamp runs) this ran as fast as relu, which moves the same
// bytes, where main_vec4's one workgroup per plane took 1.4x as long. The gain is in the stores:
// reads cost the same in either order there (bench/reads.ts), and a reduction, which only
// reads, stays channel by channel (batch_norm_stats.wgsl, batch_norm_backward_reduce.wgsl).
// Few lanes (8, BATCH_NORM_LAUNCH.planeRunLanes): llvmpipe runs a workgroup's 8-lane rows one
// after the other, each over the whole run; with 64 lanes each row's walk was too sparse, and
// with one row the walk is in memory order (steadiest when another job shares the memory).
override RUN: u32 = 8u;

@compute @workgroup_size(WG)
fn main_plane_runs(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  for (var k = 0u; k < RUN; k++) {
    let plane = wid.x * RUN + k;
    if (plane >= p.N * p.C) { return; }
    apply_plane(plane, lid.x, stats[plane % p.C]);
  }
}

// The run's statistics, one vec4 per plane (main_plane_runs_finalize).
var<workgroup> run_stats: array<vec4<f32>, RUN>;

// Lane k finalizes the channel of the run's plane k (and owns it where the plane is image 0's),
// all RUN of them in one 8-lane row; then the lanes apply them. (Finalized in the plane loop,
// every 8-lane row would repeat the work for every plane: 1.1-1.3x the pass's time on lavapipe.)
@compute @workgroup_size(WG)
fn main_plane_runs_finalize(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let first = wid.x * RUN;
  let planes = p.N * p.C;
  if (lid.x < RUN && first + lid.x < planes) {
    let plane = first + lid.x;
    run_stats[lid.x] = finalize_channel(plane % p.C, plane < p.C);
  }
  workgroupBarrier();
  for (var k = 0u; k < RUN; k++) {
    if (first + k >= planes) { return; }
    apply_plane(first + k, lid.x, run_stats[k]);
  }
}

fn apply_plane(plane: u32, lane: u32, st: vec4<f32>) {
  let base = plane * p.S;
  for (var s = lane; s < p.S; s += WG) { y4[base + s] = act4(x4[base + s] * st.z + st.w, base + s); }
}

@compute @workgroup_size(WG)
fn main_flat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let st = stats[(i / p.S) % p.C];
  y[i] = act(x[i] * st.z + st.w, i);
}

// Which elements of the vec4 starting at `first` lie in the plane after the one `first` is in.
fn in_next_plane(first: u32, plane: u32) -> vec4<bool> {
  return vec4<u32>(first, first + 1u, first + 2u, first + 3u) >= vec4<u32>((plane + 1u) * PLANE);
}

@compute @workgroup_size(WG)
fn main_split_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i * 4u >= p.total) { return; }
  let plane = (i * 4u) / PLANE;
  // (the second plane's statistics are unused when the vec4 lies in one plane)
  apply_split_vec4(i, in_next_plane(i * 4u, plane), stats[plane % CHANNELS], stats[(plane + 1u) % CHANNELS]);
}

@compute @workgroup_size(WG)
fn main_split_vec4_finalize(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i * 4u >= p.total) { return; }
  let plane = (i * 4u) / PLANE;
  let next = in_next_plane(i * 4u, plane);
  // The vec4 holding the first float of image 0's plane c owns channel c: plane's when the vec4
  // starts it, else plane + 1's if that plane starts inside the vec4 (planes have >= 4 floats).
  let starts_here = (i * 4u) % PLANE == 0u;
  let st0 = finalize_channel(plane % CHANNELS, starts_here && plane < CHANNELS);
  let st1 = finalize_channel((plane + 1u) % CHANNELS, !starts_here && any(next) && plane + 1u < CHANNELS);
  apply_split_vec4(i, next, st0, st1);
}

fn apply_split_vec4(i: u32, next: vec4<bool>, st0: vec4<f32>, st1: vec4<f32>) {
  let scale = select(vec4<f32>(st0.z), vec4<f32>(st1.z), next);
  let shift = select(vec4<f32>(st0.w), vec4<f32>(st1.w), next);
  y4[i] = act4(x4[i] * scale + shift, i);
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

// Workgroup (b, cg): channels 4 * cg .. 4 * cg + 3 of images b * IMAGES .. b * IMAGES + IMAGES - 1.
// In each image those four planes are one group of PLANE vec4s; the statistics are loaded once
// and serve every image.
@compute @workgroup_size(WG)
fn main_plane_groups(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let c = 4u * wid.y;
  apply_plane_group(lid, wid, stats[c], stats[c + 1u], stats[c + 2u], stats[c + 3u]);
}

@compute @workgroup_size(WG)
fn main_plane_groups_finalize(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let c = 4u * wid.y;
  let owns = wid.x == 0u && lid.x == 0u;
  apply_plane_group(lid, wid, finalize_channel(c, owns), finalize_channel(c + 1u, owns), finalize_channel(c + 2u, owns), finalize_channel(c + 3u, owns));
}

fn apply_plane_group(lid: vec3<u32>, wid: vec3<u32>, st0: vec4<f32>, st1: vec4<f32>, st2: vec4<f32>, st3: vec4<f32>) {
  let scales = vec4<f32>(st0.z, st1.z, st2.z, st3.z);
  let shifts = vec4<f32>(st0.w, st1.w, st2.w, st3.w);
  for (var l = lid.x; l < PLANE; l += WG) {      // the group holds PLANE vec4s
    let q = plane_in_group(l);
    let scale = pick_plane(scales, q);
    let shift = pick_plane(shifts, q);
    let n0 = wid.x * IMAGES;
    let n1 = min(p.N, n0 + IMAGES);   // a run-time bound, as in main_vec4
    for (var n = n0; n < n1; n++) {
      let i = (n * (CHANNELS / 4u) + wid.y) * PLANE + l;
      y4[i] = act4(x4[i] * scale + shift, i);
    }
  }
}
