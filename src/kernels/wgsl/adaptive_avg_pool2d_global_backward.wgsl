// adaptive_avg_pool2d_global_backward.wgsl — gradient of global average pooling, NCHW f32:
// every value of a plane receives the same share of the plane's gradient.
//
// Legend as in adaptive_avg_pool2d_global_forward.wgsl: gy (N, C, 1, 1), dx (N, C, H, W).
//   dx[plane, s] = gy[plane] * (1 / S)
// Grid: x covers a plane's units (f32s, or vec4s in `main_vec4` when S % 4 == 0), y (spilling
// into z) the planes, so the plane index comes from the grid (no integer division).
// Bindings: 0 gy (read), 1 dx (write), 2 params.
// Reference: src/kernels/reference/pool.ts (adaptiveAvgPool2dBackwardRef). Launcher: src/kernels/pool.ts.

struct GlobalPoolParams {   // the same struct as adaptive_avg_pool2d_global_forward.wgsl
  planes: u32,
  S: u32,
  scale: f32,
  _p0: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: GlobalPoolParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane = wid.y + wid.z * nwg.y;
  if (gid.x >= p.S || plane >= p.planes) { return; }
  dx[plane * p.S + gid.x] = gy[plane] * p.scale;
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane = wid.y + wid.z * nwg.y;
  if (gid.x >= p.S || plane >= p.planes) { return; }
  dx4[plane * p.S + gid.x] = vec4<f32>(gy[plane] * p.scale);
}
