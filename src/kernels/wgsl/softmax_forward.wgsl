// softmax_forward.wgsl — softmax or log-softmax along one dimension, f32, numerically stable.
//
// Legend: x and y are contiguous, viewed as (outer, D, inner) where D is the softmax dimension;
// a "line" is the D values x[o, :, i] (stride `inner`), lines = outer * inner.
//   m = max_d x,  s = sum_d exp(x - m)
//   softmax:      y = exp(x - m) / s
//   log-softmax:  y = x - m - log(s)            (LOG = true)
// m and s come from one *online* pass (Milakov & Gimelshein, 2018): on a new maximum the
// running sum is rescaled, s = s * exp(m_old - m_new) + 1, so x is read twice, not three times.
// m starts at the lowest finite float, so -inf entries (masks) add exp(-inf) = 0 instead of NaN.
// Entry points, chosen by the launcher:
//   main       one invocation per line (many lines; lanes read neighbouring i: coalesced);
//   main_wide  one workgroup per line (few long lines): lanes stride over d, their (m, s)
//              pairs merge in a fixed tree: m = max(m1, m2), s = s1 e^(m1-m) + s2 e^(m2-m);
//   main_lines4  four neighbouring lines per invocation where inner % 4 == 0 (softmax over the
//              channels of NCHW): one vec4 load per d serves all four;
//   main_rows4   one line per invocation along a contiguous axis of whole vec4s (inner == 1,
//              D % 4 == 0: the last axis): four interleaved (m, s) pairs, merged as main_wide's.
// The vec4 entries take the online step without a branch, m' = max(m, v), s' = s e^(m - m') +
// e^(v - m') (the same values: e^0 = 1), so the four components need no divergent paths. On
// lavapipe, where each scalar load is a walk over the lanes, they ran at 0.43-0.55x relu's byte
// rate against main's 0.21-0.33x (the exponentials are the rest).
// Bindings: 0 x (read; as f32s or vec4s), 1 y (write; likewise), 2 params.
// Reference: src/kernels/reference/softmax.ts (softmaxRef). Launcher: src/kernels/softmax.ts.

struct SoftmaxParams {
  lines: u32,
  D: u32,
  inner: u32,
  _p0: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;        // the vec4 entries'
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: SoftmaxParams;

override WG: u32 = 64u;
override LOG: bool = false;

const LOWEST: f32 = -0x1.fffffep+127f;

fn line_base(line: u32) -> u32 {
  return (line / p.inner) * p.D * p.inner + line % p.inner;
}

// One step of the online max / sum-of-exponentials.
fn online(ms: vec2<f32>, v: f32) -> vec2<f32> {
  if (v > ms.x) { return vec2<f32>(v, ms.y * exp(ms.x - v) + 1.0); }
  return vec2<f32>(ms.x, ms.y + exp(v - ms.x));
}

fn write_line(base: u32, first: u32, step: u32, ms: vec2<f32>) {
  let log_s = log(ms.y);
  let inv_s = 1.0 / ms.y;
  for (var d = first; d < p.D; d += step) {
    let i = base + d * p.inner;
    if (LOG) { y[i] = x[i] - ms.x - log_s; } else { y[i] = exp(x[i] - ms.x) * inv_s; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let line = gid.x + gid.y * nwg.x * WG;
  if (line >= p.lines) { return; }
  let base = line_base(line);
  var ms = vec2<f32>(LOWEST, 0.0);
  for (var d = 0u; d < p.D; d++) { ms = online(ms, x[base + d * p.inner]); }
  write_line(base, 0u, 1u, ms);
}

var<workgroup> tree: array<vec2<f32>, WG>;

@compute @workgroup_size(WG)
fn main_wide(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let lid = lid3.x;
  let line = wid.x + wid.y * nwg.x;
  if (line >= p.lines) { return; }   // uniform per workgroup: the barriers below are safe
  let base = line_base(line);
  var ms = vec2<f32>(LOWEST, 0.0);
  for (var d = lid; d < p.D; d += WG) { ms = online(ms, x[base + d * p.inner]); }
  tree[lid] = ms;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) {
      let a = tree[lid];
      let b = tree[lid + width];
      let m = max(a.x, b.x);
      tree[lid] = vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
    }
    workgroupBarrier();
  }
  write_line(base, lid, WG, tree[0]);
}

// The online step on four independent (m, s) pairs at once, without a branch.
fn online4(m: vec4<f32>, s: vec4<f32>, v: vec4<f32>) -> array<vec4<f32>, 2> {
  let m_new = max(m, v);
  return array<vec4<f32>, 2>(m_new, s * exp(m - m_new) + exp(v - m_new));
}

// y for x values v of lines whose maxima and sums are m and s.
fn out4(v: vec4<f32>, m: vec4<f32>, s: vec4<f32>) -> vec4<f32> {
  if (LOG) { return v - m - log(s); }
  return exp(v - m) / s;
}

// Lines 4q .. 4q+3 (inner % 4 == 0: same outer index, neighbouring i, one aligned vec4 per d).
@compute @workgroup_size(WG)
fn main_lines4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = gid.x + gid.y * nwg.x * WG;
  if (q >= p.lines / 4u) { return; }
  let base4 = line_base(4u * q) / 4u;
  let step4 = p.inner / 4u;
  var ms = array<vec4<f32>, 2>(vec4<f32>(LOWEST), vec4<f32>(0.0));
  for (var d = 0u; d < p.D; d++) { ms = online4(ms[0], ms[1], x4[base4 + d * step4]); }
  for (var d = 0u; d < p.D; d++) { y4[base4 + d * step4] = out4(x4[base4 + d * step4], ms[0], ms[1]); }
}

// One line of D contiguous values (inner == 1, D % 4 == 0): component c of the running pair
// covers d = c, c + 4, ...; the four pairs merge before the write pass.
@compute @workgroup_size(WG)
fn main_rows4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let line = gid.x + gid.y * nwg.x * WG;
  if (line >= p.lines) { return; }
  let base4 = line * (p.D / 4u);
  var ms = array<vec4<f32>, 2>(vec4<f32>(LOWEST), vec4<f32>(0.0));
  for (var v = 0u; v < p.D / 4u; v++) { ms = online4(ms[0], ms[1], x4[base4 + v]); }
  let m = max(max(ms[0].x, ms[0].y), max(ms[0].z, ms[0].w));
  let s = dot(ms[1], exp(ms[0] - vec4<f32>(m)));
  for (var v = 0u; v < p.D / 4u; v++) { y4[base4 + v] = out4(x4[base4 + v], vec4<f32>(m), vec4<f32>(s)); }
}
