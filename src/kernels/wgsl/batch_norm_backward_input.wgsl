// batch_norm_backward_input.wgsl — dx of batch norm, elementwise, NCHW f32.
//
// dx = a * gy + b * (x - mean) + k with coef[c] = (a, b, k, mean) from
// batch_norm_backward_finalize.wgsl. In eval (TRAINING = false) b = k = 0 and x is not read.
// Grid as in batch_norm_forward.wgsl: workgroup (b, c, n) covers V * WG units of plane (n, c).
// A unit is an f32 (`main`) or a vec4 (`main_vec4`, S % 4 == 0, S counted in vec4s);
// `main_flat` (tiny planes) runs one invocation per f32 over a 1-D grid, channel = (i / S) % C;
// `main_split_vec4` (planes not a multiple of 4, e.g. 7x7) reads the flat tensor as vec4s.
// FUSE_RELU: gy is masked by the fused ReLU, select(0, gy, x * scale + shift > 0) with
// stats[c] = (mean, invstd, scale, shift), as in batch_norm_backward_reduce.wgsl (stats unread
// otherwise).
// Bindings: 0 gy (read), 1 x (read), 2 coef (read, C vec4), 3 dx (write), 4 stats (read, C vec4),
// 5 params.
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
@group(0) @binding(4) var<storage, read> stats: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> p: ApplyParams;

override WG: u32 = 256u;
override V: u32 = 1u;
override TRAINING: bool = true;
override FUSE_RELU: bool = false;
override PLANE: u32 = 1u;     // main_split_vec4: S and C as constants (see batch_norm_forward.wgsl)
override CHANNELS: u32 = 1u;

// gy masked by the fused ReLU: y = x * scale + shift > 0, as batch_norm_forward.wgsl computes y.
fn masked_gy(g: f32, xv: f32, st: vec4<f32>) -> f32 {
  if (FUSE_RELU) { return select(0.0, g, xv * st.z + st.w > 0.0); }
  return g;
}

fn masked_gy4(g: vec4<f32>, xv: vec4<f32>, st: vec4<f32>) -> vec4<f32> {
  if (FUSE_RELU) { return select(vec4<f32>(0.0), g, xv * st.z + st.w > vec4<f32>(0.0)); }
  return g;
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let k = coef[wid.y];
  let st = stats[wid.y];
  let base = (wid.z * p.C + wid.y) * p.S;
  for (var j = 0u; j < V; j++) {
    let s = (wid.x * V + j) * WG + lid.x;
    if (s < p.S) {
      let xv = x[base + s];               // unread (dead) in eval without FUSE_RELU
      var g = k.x * masked_gy(gy[base + s], xv, st);
      if (TRAINING) { g += k.y * (xv - k.w) + k.z; }
      dx[base + s] = g;
    }
  }
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let k = coef[wid.y];
  let st = stats[wid.y];
  let base = (wid.z * p.C + wid.y) * p.S;
  for (var j = 0u; j < V; j++) {
    let s = (wid.x * V + j) * WG + lid.x;
    if (s < p.S) {
      let xv = x4[base + s];
      var g = k.x * masked_gy4(gy4[base + s], xv, st);
      if (TRAINING) { g += k.y * (xv - k.w) + k.z; }
      dx4[base + s] = g;
    }
  }
}

@compute @workgroup_size(WG)
fn main_flat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.total) { return; }
  let c = (i / p.S) % p.C;
  let k = coef[c];
  let xv = x[i];
  var g = k.x * masked_gy(gy[i], xv, stats[c]);
  if (TRAINING) { g += k.y * (xv - k.w) + k.z; }
  dx[i] = g;
}

// Planes whose size is not a multiple of 4 as whole vec4s of the flat tensor; a vec4 may hold
// the end of one plane and the start of the next (see batch_norm_forward.wgsl).
@compute @workgroup_size(WG)
fn main_split_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i * 4u >= p.total) { return; }
  let first = i * 4u;
  let plane = first / PLANE;
  let next = vec4<u32>(first, first + 1u, first + 2u, first + 3u) >= vec4<u32>((plane + 1u) * PLANE);
  let c0 = plane % CHANNELS;
  let c1 = (plane + 1u) % CHANNELS;           // unused when the vec4 is in one plane
  let k0 = coef[c0];
  let k1 = coef[c1];
  let xv = x4[i];
  var g = gy4[i];
  if (FUSE_RELU) {
    let st0 = stats[c0];
    let st1 = stats[c1];
    let y = xv * select(vec4<f32>(st0.z), vec4<f32>(st1.z), next) + select(vec4<f32>(st0.w), vec4<f32>(st1.w), next);
    g = select(vec4<f32>(0.0), g, y > vec4<f32>(0.0));
  }
  var r = select(vec4<f32>(k0.x), vec4<f32>(k1.x), next) * g;
  if (TRAINING) {
    r += select(vec4<f32>(k0.y), vec4<f32>(k1.y), next) * (xv - select(vec4<f32>(k0.w), vec4<f32>(k1.w), next)) +
         select(vec4<f32>(k0.z), vec4<f32>(k1.z), next);
  }
  dx4[i] = r;
}
