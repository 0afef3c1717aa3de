// softmax_backward.wgsl — gradient of softmax / log-softmax along one dimension, f32.
//
// Legend as in softmax_forward.wgsl: (outer, D, inner) lines; y is the saved forward output.
//   softmax:      dx = y * (gy - sum_d gy * y)
//   log-softmax:  dx = gy - exp(y) * sum_d gy          (LOG = true)
// Entry points: main (one invocation per line), main_wide (one workgroup per line, lanes
// stride over d, fixed-order tree sum), and as in softmax_forward.wgsl main_lines4 (four
// neighbouring lines per invocation, inner % 4 == 0) and main_rows4 (vec4 loads along a line of
// whole vec4s, inner == 1). Deterministic.
// Bindings: 0 gy (read), 1 y (read), 2 dx (write; each as f32s or vec4s), 3 params.
// Reference: src/kernels/reference/softmax.ts (softmaxBackwardRef). Launcher: src/kernels/softmax.ts.

struct SoftmaxParams {
  lines: u32,
  D: u32,
  inner: u32,
  _p0: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(0) var<storage, read> gy4: array<vec4<f32>>;      // the vec4 entries'
@group(0) @binding(1) var<storage, read> y4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: SoftmaxParams;

override WG: u32 = 64u;
override LOG: bool = false;

fn line_base(line: u32) -> u32 {
  return (line / p.inner) * p.D * p.inner + line % p.inner;
}

fn term(i: u32) -> f32 {
  if (LOG) { return gy[i]; }
  return gy[i] * y[i];
}

fn write_line(base: u32, first: u32, step: u32, total: f32) {
  for (var d = first; d < p.D; d += step) {
    let i = base + d * p.inner;
    if (LOG) { dx[i] = gy[i] - exp(y[i]) * total; } else { dx[i] = y[i] * (gy[i] - total); }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let line = gid.x + gid.y * nwg.x * WG;
  if (line >= p.lines) { return; }
  let base = line_base(line);
  var total = 0.0;
  for (var d = 0u; d < p.D; d++) { total += term(base + d * p.inner); }
  write_line(base, 0u, 1u, total);
}

var<workgroup> tree: array<f32, WG>;

@compute @workgroup_size(WG)
fn main_wide(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let lid = lid3.x;
  let line = wid.x + wid.y * nwg.x;
  if (line >= p.lines) { return; }
  let base = line_base(line);
  var total = 0.0;
  for (var d = lid; d < p.D; d += WG) { total += term(base + d * p.inner); }
  tree[lid] = total;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) { tree[lid] = tree[lid] + tree[lid + width]; }
    workgroupBarrier();
  }
  write_line(base, lid, WG, tree[0]);
}

fn term4(i: u32) -> vec4<f32> {
  if (LOG) { return gy4[i]; }
  return gy4[i] * y4[i];
}

fn dx_of4(i: u32, total: vec4<f32>) -> vec4<f32> {
  if (LOG) { return gy4[i] - exp(y4[i]) * total; }
  return y4[i] * (gy4[i] - total);
}

// Lines 4q .. 4q+3 (inner % 4 == 0): one aligned vec4 per d serves all four.
@compute @workgroup_size(WG)
fn main_lines4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = gid.x + gid.y * nwg.x * WG;
  if (q >= p.lines / 4u) { return; }
  let base4 = line_base(4u * q) / 4u;
  let step4 = p.inner / 4u;
  var total = vec4<f32>(0.0);
  for (var d = 0u; d < p.D; d++) { total += term4(base4 + d * step4); }
  for (var d = 0u; d < p.D; d++) { dx4[base4 + d * step4] = dx_of4(base4 + d * step4, total); }
}

// One line of D contiguous values (inner == 1, D % 4 == 0): four interleaved partial sums.
@compute @workgroup_size(WG)
fn main_rows4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let line = gid.x + gid.y * nwg.x * WG;
  if (line >= p.lines) { return; }
  let base4 = line * (p.D / 4u);
  var partial = vec4<f32>(0.0);
  for (var v = 0u; v < p.D / 4u; v++) { partial += term4(base4 + v); }
  let total = vec4<f32>((partial.x + partial.y) + (partial.z + partial.w));
  for (var v = 0u; v < p.D / 4u; v++) { dx4[base4 + v] = dx_of4(base4 + v, total); }
}
