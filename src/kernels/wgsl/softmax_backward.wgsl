// softmax_backward.wgsl — gradient of softmax / log-softmax along one dimension, f32.
//
// Legend as in softmax_forward.wgsl: (outer, D, inner) lines; y is the saved forward output.
//   softmax:      dx = y * (gy - sum_d gy * y)
//   log-softmax:  dx = gy - exp(y) * sum_d gy          (LOG = true)
// Entry points: main (one invocation per line), main_wide (one workgroup per line, lanes
// stride over d, fixed-order tree sum). Deterministic.
// Bindings: 0 gy (read), 1 y (read), 2 dx (write), 3 params.
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
