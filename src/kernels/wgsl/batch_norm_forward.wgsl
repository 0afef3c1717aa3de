// batch_norm_forward.wgsl — apply batch norm: y = x * scale[c] + shift[c], NCHW f32.
//
// x, y: (N, C, S), S = H*W; stats: (C) vec4 (mean, invstd, scale, shift) from
// batch_norm_finalize.wgsl, which folds mean, invstd, weight and bias into one multiply-add.
// One invocation per unit: an f32 (`main`) or, when S % 4 == 0, a vec4 of one plane
// (`main_vec4`; S then counts vec4s). Channel of unit u: (u / S) % C.
// Bindings: 0 x (read), 1 stats (read), 2 y (write), 3 params.
// Reference: src/kernels/reference/batch-norm.ts (batchNormForwardRef). Launcher: src/kernels/batch-norm.ts.

struct ApplyParams {
  units: u32,        // N * C * S
  C: u32,
  S: u32,
  _p0: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ApplyParams;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let u = gid.x + gid.y * nwg.x * WG;
  if (u >= p.units) { return; }
  let st = stats[(u / p.S) % p.C];
  y[u] = x[u] * st.z + st.w;
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let u = gid.x + gid.y * nwg.x * WG;
  if (u >= p.units) { return; }
  let st = stats[(u / p.S) % p.C];
  y4[u] = x4[u] * st.z + st.w;
}
