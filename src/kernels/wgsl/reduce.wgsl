// reduce.wgsl — sum / max / min over a set of axes, f32, deterministic.
//
// The launcher splits the input's dimensions into *kept* ones (they index the output) and
// *reduced* ones (they are folded), each with its own shape and input strides, after merging
// neighbours that are contiguous — so reducing the last axis of a contiguous tensor is a
// rank-1 walk. out[o] = scale * fold_{r < R} x[base(o) + offset(r)].
//
// Two entry points, chosen by the launcher:
//   main         one invocation per output element, a sequential loop over R (many outputs).
//   main_wide    one workgroup per output element, or per chunk of it (then a second pass
//                folds the chunks' partials): lanes stride over R, as vec4s where it is
//                contiguous, then a tree reduction in workgroup memory (few outputs, long rows:
//                e.g. a full sum).
//   main_outer4  four neighbouring outputs per invocation, as vec4s, where the innermost kept
//                elements are contiguous and one reduced dimension strides over them (x.sum(0)
//                of a matrix, a sum over the channels of NCHW, the per-split partial weight
//                gradients of a convolution): each lane folds the same elements in the same
//                order as `main`, one vec4 load per r.
//   main_inner4  one output per invocation over contiguous reduced elements, as vec4s (a sum
//                over the last axis).
// Both fix the order of additions, so results are bit-identical run to run (no atomics).
// Bindings: 0 x (read), 1 out (write), 2 params.
// Reference: src/kernels/reference/reduce.ts. Launcher: src/kernels/reduce.ts.

struct Params {
  out_numel: u32,
  red_numel: u32,
  out_rank: u32,
  red_rank: u32,
  x_offset: u32,
  scale: f32,          // 1 for sum/max/min, 1/R for mean
  chunk: u32,          // main_wide: reduced elements per workgroup (red_numel when not split)
  chunks: u32,         // main_wide: workgroups per output (partials per output)
  out_shape: array<vec4<u32>, 2>,
  out_strides: array<vec4<u32>, 2>,   // input strides of the kept dimensions
  red_shape: array<vec4<u32>, 2>,
  red_strides: array<vec4<u32>, 2>,   // input strides of the reduced dimensions
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;          // x again (main_outer4)
@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>;  // out again (main_outer4)
@group(0) @binding(2) var<uniform> p: Params;

override OP: u32 = 0u;       // 0 sum, 1 max, 2 min
override WG: u32 = 64u;

fn identity() -> f32 {
  switch OP {
    case 1u: { return -0x1.fffffep+127f; }
    case 2u: { return 0x1.fffffep+127f; }
    default: { return 0.0; }
  }
}

fn combine(acc: f32, v: f32) -> f32 {
  switch OP {
    case 1u: { return max(acc, v); }
    case 2u: { return min(acc, v); }
    default: { return acc + v; }
  }
}

fn base_offset(o: u32) -> u32 {
  var rest = o;
  var off = p.x_offset;
  for (var d = i32(p.out_rank) - 1; d >= 0; d--) {
    let size = p.out_shape[d / 4][d % 4];
    off += (rest % size) * p.out_strides[d / 4][d % 4];
    rest = rest / size;
  }
  return off;
}

fn red_offset(r: u32) -> u32 {
  var rest = r;
  var off = 0u;
  for (var d = i32(p.red_rank) - 1; d >= 0; d--) {
    let size = p.red_shape[d / 4][d % 4];
    off += (rest % size) * p.red_strides[d / 4][d % 4];
    rest = rest / size;
  }
  return off;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= p.out_numel) { return; }
  let base = base_offset(o);
  var acc = identity();
  if (p.red_rank == 1u) {
    // Fast path: one reduced dimension with a single stride.
    let stride = p.red_strides[0][0];
    for (var r = 0u; r < p.red_numel; r++) { acc = combine(acc, x[base + r * stride]); }
  } else {
    for (var r = 0u; r < p.red_numel; r++) { acc = combine(acc, x[base + red_offset(r)]); }
  }
  out[o] = acc * p.scale;
}

var<workgroup> partial: array<f32, WG>;

override VEC4: bool = false;   // main_wide: the reduced elements are contiguous, from vec4-aligned bases

// Workgroup w folds elements [c * chunk, min((c + 1) * chunk, R)) of output o = w / chunks
// (c = w % chunks) into out[w]: with chunks > 1 these are partials, and the launcher folds them
// in a second pass. One workgroup per output alone would leave all but one CPU thread idle on
// lavapipe for a full sum (a workgroup runs on one thread there).
@compute @workgroup_size(WG)
fn main_wide(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.out_numel * p.chunks) { return; }   // uniform per workgroup, so the barriers below are safe
  let o = w / p.chunks;
  let start = (w - o * p.chunks) * p.chunk;
  let end = min(start + p.chunk, p.red_numel);
  let base = base_offset(o);
  var acc = identity();
  // x is read through its vec4 view in every branch (an entry point may use only one view of a
  // binding): element j is x4[j / 4][j % 4].
  if (VEC4) {
    // Lanes stride over whole vec4s (one load per 4 elements), then the chunk's last 0-3 elements.
    let n4 = (end - start) / 4u;
    var acc4 = vec4<f32>(identity());
    for (var v = lid.x; v < n4; v += WG) { acc4 = combine4(acc4, x4[(base + start) / 4u + v]); }
    acc = combine(combine(acc4.x, acc4.y), combine(acc4.z, acc4.w));
    for (var r = start + 4u * n4 + lid.x; r < end; r += WG) { acc = combine(acc, x4[(base + r) / 4u][(base + r) % 4u]); }
  } else if (p.red_rank == 1u) {
    let stride = p.red_strides[0][0];
    for (var r = start + lid.x; r < end; r += WG) { let j = base + r * stride; acc = combine(acc, x4[j / 4u][j % 4u]); }
  } else {
    for (var r = start + lid.x; r < end; r += WG) { let j = base + red_offset(r); acc = combine(acc, x4[j / 4u][j % 4u]); }
  }
  partial[lid.x] = acc;
  workgroupBarrier();
  // Tree reduction: halve the active lanes each step (WG is a power of two).
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid.x < width) { partial[lid.x] = combine(partial[lid.x], partial[lid.x + width]); }
    workgroupBarrier();
  }
  if (lid.x == 0u) { out[w] = partial[0] * p.scale; }
}

fn combine4(acc: vec4<f32>, v: vec4<f32>) -> vec4<f32> {
  switch OP {
    case 1u: { return max(acc, v); }
    case 2u: { return min(acc, v); }
    default: { return acc + v; }
  }
}

// Outputs 4q .. 4q+3: the innermost kept dimension has stride 1 and a size that is a multiple of
// 4, every kept stride and x_offset are multiples of 4, and one reduced dimension strides in whole
// vec4s (the launcher checks): the 4 outputs' elements at each r are one aligned vec4.
@compute @workgroup_size(WG)
fn main_outer4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = gid.x + gid.y * nwg.x * WG;
  if (q >= p.out_numel / 4u) { return; }
  let base4 = base_offset(4u * q) / 4u;
  let stride4 = p.red_strides[0][0] / 4u;
  var acc = vec4<f32>(identity());
  for (var r = 0u; r < p.red_numel; r++) { acc = combine4(acc, x4[base4 + r * stride4]); }
  out4[q] = acc * p.scale;
}

// One output per invocation whose reduced elements are contiguous, a multiple of 4 of them, from
// a vec4-aligned base (x.sum(-1) of rows of whole vec4s; the launcher checks): a vec4 load per 4
// elements, folded lane-wise and then across the vec4, where `main` loads one float at a time
// (sum over the last axis of [32, 64, 32, 32] on lavapipe: 0.42x relu's byte rate).
@compute @workgroup_size(WG)
fn main_inner4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= p.out_numel) { return; }
  let base4 = base_offset(o) / 4u;
  var acc = vec4<f32>(identity());
  for (var v = 0u; v < p.red_numel / 4u; v++) { acc = combine4(acc, x4[base4 + v]); }
  out[o] = combine(combine(acc.x, acc.y), combine(acc.z, acc.w)) * p.scale;
}
