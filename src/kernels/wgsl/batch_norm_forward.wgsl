// batch_norm_forward.wgsl — apply batch norm: y = x * scale[c] + shift[c], NCHW f32.
//
// x, y: (N, C, S), S = H*W; stats: (C) vec4 (mean, invstd, scale, shift) from
// batch_norm_finalize.wgsl, which folds mean, invstd, weight and bias into one multiply-add.
// Grid: workgroup (b, c, n) covers V * WG units of plane (n, c), starting at unit b * V * WG;
// lane l handles units l, l + WG, ..., so the channel comes from the grid, not from dividing
// the flat index (integer division is scalarised by llvmpipe and cost 3x here).
// A unit is an f32 (`main`) or, when S % 4 == 0, a vec4 (`main_vec4`; S then counts vec4s).
// Tiny planes (S < 16, e.g. (N, C) inputs where S = 1) would leave most lanes idle in that
// grid: `main_flat` runs one invocation per f32 over a 1-D grid, channel = (i / S) % C.
// FUSE_RELU (F.batchNorm's `relu` option): y = max(x * scale + shift, 0) in the same pass, so a
// BatchNorm + ReLU pair costs one read and one write of the tensor instead of two each.
// Bindings: 0 x (read), 1 stats (read), 2 y (write), 3 params.
// Reference: src/kernels/reference/batch-norm.ts (batchNormForwardRef). Launcher: src/kernels/batch-norm.ts.

struct ApplyParams {      // packed by packApplyParams() in src/kernels/batch-norm.ts
  C: u32,
  S: u32,                 // units per plane
  total: u32,             // N * C * S (main_flat only)
  _p0: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ApplyParams;

override WG: u32 = 256u;
override V: u32 = 1u;     // units per invocation
override FUSE_RELU: bool = false;

fn act(v: f32) -> f32 { return select(v, max(v, 0.0), FUSE_RELU); }
fn act4(v: vec4<f32>) -> vec4<f32> { return select(v, max(v, vec4<f32>(0.0)), FUSE_RELU); }

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let st = stats[wid.y];
  let base = (wid.z * p.C + wid.y) * p.S;
  for (var k = 0u; k < V; k++) {
    let s = (wid.x * V + k) * WG + lid.x;
    if (s < p.S) { y[base + s] = act(x[base + s] * st.z + st.w); }
  }
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let st = stats[wid.y];
  let base = (wid.z * p.C + wid.y) * p.S;
  for (var k = 0u; k < V; k++) {
    let s = (wid.x * V + k) * WG + lid.x;
    if (s < p.S) { y4[base + s] = act4(x4[base + s] * st.z + st.w); }
  }
}

@compute @workgroup_size(WG)
fn main_flat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let st = stats[(i / p.S) % p.C];
  y[i] = act(x[i] * st.z + st.w);
}
