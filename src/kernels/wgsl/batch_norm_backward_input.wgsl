// batch_norm_backward_input.wgsl — dx of batch norm, elementwise, NCHW f32.
//
// dx = a * gy + b * (x - mean) + k with coef[c] = (a, b, k, mean) from
// batch_norm_backward_finalize.wgsl. In eval (TRAINING = false) b = k = 0 and x is not read.
// One invocation per unit: an f32 (`main`) or a vec4 of one plane (`main_vec4`, S % 4 == 0,
// S counted in vec4s). Channel of unit u: (u / S) % C.
// Bindings: 0 gy (read), 1 x (read), 2 coef (read, C vec4), 3 dx (write), 4 params.
// Reference: src/kernels/reference/batch-norm.ts (batchNormBackwardRef). Launcher: src/kernels/batch-norm.ts.

struct ApplyParams {      // the same struct as batch_norm_forward.wgsl
  units: u32,
  C: u32,
  S: u32,
  _p0: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(0) var<storage, read> gy4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(4) var<uniform> p: ApplyParams;

override WG: u32 = 256u;
override TRAINING: bool = true;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let u = gid.x + gid.y * nwg.x * WG;
  if (u >= p.units) { return; }
  let k = coef[(u / p.S) % p.C];
  var g = k.x * gy[u];
  if (TRAINING) { g += k.y * (x[u] - k.w) + k.z; }
  dx[u] = g;
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let u = gid.x + gid.y * nwg.x * WG;
  if (u >= p.units) { return; }
  let k = coef[(u / p.S) % p.C];
  var g = k.x * gy4[u];
  if (TRAINING) { g += k.y * (x4[u] - k.w) + k.z; }
  dx4[u] = g;
}
