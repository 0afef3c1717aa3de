// batch_norm_backward_input.wgsl — dx of batch norm, elementwise, NCHW f32.
//
// dx = a * gy + b * (x - mean) + k with coef[c] = (a, b, k, mean) from
// batch_norm_backward_finalize.wgsl. In eval (TRAINING = false) b = k = 0 and x is not read.
// Grid as in batch_norm_forward.wgsl: workgroup (b, c, n) covers V * WG units of plane (n, c).
// A unit is an f32 (`main`) or a vec4 (`main_vec4`, S % 4 == 0, S counted in vec4s);
// `main_flat` (tiny planes) runs one invocation per f32 over a 1-D grid, channel = (i / S) % C.
// FUSE_RELU: gy is masked by the saved fused output, select(0, gy, yout > 0), as in
// batch_norm_backward_reduce.wgsl (yout unread otherwise; the launcher binds gy there).
// Bindings: 0 gy (read), 1 x (read), 2 coef (read, C vec4), 3 dx (write), 4 yout (read), 5 params.
// Reference: src/kernels/reference/batch-norm.ts (batchNormBackwardRef). Launcher: src/kernels/batch-norm.ts.

struct ApplyParams {      // the same struct as batch_norm_forward.wgsl
  C: u32,
  S: u32,
  total: u32,
  _p0: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(0) var<storage, read> gy4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> coef: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> yout: array<f32>;
@group(0) @binding(4) var<storage, read> yout4: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: ApplyParams;

override WG: u32 = 256u;
override V: u32 = 1u;
override TRAINING: bool = true;
override FUSE_RELU: bool = false;

fn load_gy(i: u32) -> f32 {
  if (FUSE_RELU) { return select(0.0, gy[i], yout[i] > 0.0); }
  return gy[i];
}

fn load_gy4(i: u32) -> vec4<f32> {
  if (FUSE_RELU) { return select(vec4<f32>(0.0), gy4[i], yout4[i] > vec4<f32>(0.0)); }
  return gy4[i];
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let k = coef[wid.y];
  let base = (wid.z * p.C + wid.y) * p.S;
  for (var j = 0u; j < V; j++) {
    let s = (wid.x * V + j) * WG + lid.x;
    if (s < p.S) {
      var g = k.x * load_gy(base + s);
      if (TRAINING) { g += k.y * (x[base + s] - k.w) + k.z; }
      dx[base + s] = g;
    }
  }
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let k = coef[wid.y];
  let base = (wid.z * p.C + wid.y) * p.S;
  for (var j = 0u; j < V; j++) {
    let s = (wid.x * V + j) * WG + lid.x;
    if (s < p.S) {
      var g = k.x * load_gy4(base + s);
      if (TRAINING) { g += k.y * (x4[base + s] - k.w) + k.z; }
      dx4[base + s] = g;
    }
  }
}

@compute @workgroup_size(WG)
fn main_flat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let k = coef[(i / p.S) % p.C];
  var g = k.x * load_gy(i);
  if (TRAINING) { g += k.y * (x[i] - k.w) + k.z; }
  dx[i] = g;
}
