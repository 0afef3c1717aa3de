// argmax.wgsl — index of the largest value along one axis of a strided f32 view, as int32, with
// PyTorch's rules: the first index wins ties, and a NaN counts as larger than every number (the
// first NaN wins).
//
// Legend: the output element o has `base(o)`, its first element's offset in x (from the kept
// dimensions' shape and strides, as in reduce.wgsl), and the D candidates x[base(o) + r * stride].
// Three entry points, chosen by the launcher (src/kernels/reduce.ts, argmax):
//   main         one output per invocation, one float per load (any layout);
//   main_outer4  four neighbouring outputs per invocation where they are contiguous in x and the
//                axis strides over whole vec4s (over the channels of NCHW): one vec4 load per r,
//                each component tracking its own best, as `main` does;
//   main_inner4  one output per invocation over a contiguous axis of whole vec4s (the last axis
//                of logits): one vec4 load per 4 candidates, each component tracking the best of
//                every fourth candidate, then the four merged (the larger, or the earlier on a tie).
// Before, an axis other than the last was first permuted into a contiguous copy, and the rows
// were read a float at a time: 0.02x relu's byte rate on lavapipe.
// Bindings: 0 x (read, as vec4s: element j is x4[j / 4][j % 4]), 1 out (write, i32 or vec4<i32>),
// 2 params. Reference: src/kernels/reference/reduce.ts (argmaxRef). Launcher: src/kernels/reduce.ts.

struct Params {
  out_numel: u32,
  D: u32,                             // candidates per output (the size of the axis)
  out_rank: u32,
  x_offset: u32,
  stride: u32,                        // x's stride along the axis
  _p0: u32,
  _p1: u32,
  _p2: u32,
  out_shape: array<vec4<u32>, 2>,
  out_strides: array<vec4<u32>, 2>,   // x's strides of the kept dimensions
}

@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4<i32>>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 64u;

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

fn x_at(j: u32) -> f32 {
  return x4[j / 4u][j % 4u];
}

// NaN by its bits: llvmpipe folds `v != v` to false.
fn is_nan4(v: vec4<f32>) -> vec4<bool> {
  return (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u);
}

// Whether a later candidate v replaces the best so far: strictly larger, or the first NaN.
fn better4(v: vec4<f32>, best: vec4<f32>) -> vec4<bool> {
  return (v > best) | (is_nan4(v) & !is_nan4(best));
}

fn better(v: f32, best: f32) -> bool {
  return better4(vec4<f32>(v), vec4<f32>(best)).x;
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= p.out_numel) { return; }
  let base = base_offset(o);
  var best = x_at(base);
  var best_i = 0u;
  for (var r = 1u; r < p.D; r++) {
    let v = x_at(base + r * p.stride);
    if (better(v, best)) { best = v; best_i = r; }
  }
  out[o] = i32(best_i);
}

// Outputs 4q .. 4q+3: contiguous in x from a vec4-aligned base, the axis's stride a multiple of 4.
@compute @workgroup_size(WG)
fn main_outer4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = gid.x + gid.y * nwg.x * WG;
  if (q >= p.out_numel / 4u) { return; }
  let base4 = base_offset(4u * q) / 4u;
  let stride4 = p.stride / 4u;
  var best = x4[base4];
  var best_i = vec4<i32>(0);
  for (var r = 1u; r < p.D; r++) {
    let v = x4[base4 + r * stride4];
    let take = better4(v, best);
    best = select(best, v, take);
    best_i = select(best_i, vec4<i32>(i32(r)), take);
  }
  out4[q] = best_i;
}

// One output over D contiguous candidates from a vec4-aligned base, D a multiple of 4.
@compute @workgroup_size(WG)
fn main_inner4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = gid.x + gid.y * nwg.x * WG;
  if (o >= p.out_numel) { return; }
  let base4 = base_offset(o) / 4u;
  // Component c holds the best of candidates c, c + 4, c + 8, ... (the first of them on ties).
  var best = x4[base4];
  var best_i = vec4<i32>(0, 1, 2, 3);
  for (var v = 1u; v < p.D / 4u; v++) {
    let x = x4[base4 + v];
    let take = better4(x, best);
    best = select(best, x, take);
    best_i = select(best_i, vec4<i32>(4 * i32(v)) + vec4<i32>(0, 1, 2, 3), take);
  }
  // Merge the four: the better value, or on a tie (two equal values, or two NaNs) the earlier index.
  var m = best.x;
  var m_i = best_i.x;
  for (var c = 1u; c < 4u; c++) {
    let tie = best[c] == m || (is_nan4(vec4<f32>(best[c])).x && is_nan4(vec4<f32>(m)).x);
    if (better(best[c], m) || (tie && best_i[c] < m_i)) { m = best[c]; m_i = best_i[c]; }
  }
  out[o] = m_i;
}
