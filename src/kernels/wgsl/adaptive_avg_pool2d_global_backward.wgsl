// adaptive_avg_pool2d_global_backward.wgsl — gradient of global average pooling, NCHW f32:
// every value of a plane receives the same share of the plane's gradient.
//
// Legend as in adaptive_avg_pool2d_global_forward.wgsl: gy (N, C, 1, 1), dx (N, C, H, W).
//   dx[plane, s] = gy[plane] * (1 / S)
// Each invocation writes UNITS consecutive units of one plane (f32s, or vec4s in `main_vec4` when
// S % 4 == 0; UNITS divides S): gy[plane] is loaded once for all of them. On llvmpipe that load
// is a per-lane loop like any store, so with one unit per invocation it doubled the work.
// Grid: flat, planes * PER_PLANE invocations (PER_PLANE = S / UNITS) in x, spilling into y; the
// plane is index / PER_PLANE, a division by a constant (a multiply). A row of workgroups per
// plane instead left most lanes idle on small planes (64 invocations of a 32x32 plane in a
// workgroup of 256).
// `main_split_vec4`, `quad`: planes that are not whole vec4s (7x7), see there.
// Bindings: 0 gy (read), 1 dx (write), 2 params.
// Reference: src/kernels/reference/pool.ts (adaptiveAvgPool2dBackwardRef). Launcher: src/kernels/adaptive-pool.ts.

struct GlobalPoolParams {   // the same struct as adaptive_avg_pool2d_global_forward.wgsl
  planes: u32,
  S: u32,
  scale: f32,
  _p0: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(0) var<storage, read> gy4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: GlobalPoolParams;

override WG: u32 = 64u;
override UNITS: u32 = 1u;
override PER_PLANE: u32 = 1u;
override PLANE: u32 = 1u;   // main_split_vec4: floats per plane (H * W), a constant divisor

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let index = gid.x + gid.y * nwg.x * WG;
  let plane = index / PER_PLANE;
  if (plane >= p.planes) { return; }
  let v = gy[plane] * p.scale;
  let at = index * UNITS;
  for (var u = 0u; u < UNITS; u++) { dx[at + u] = v; }
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let index = gid.x + gid.y * nwg.x * WG;
  let plane = index / PER_PLANE;
  if (plane >= p.planes) { return; }
  let v = vec4<f32>(gy[plane] * p.scale);
  let at = index * UNITS;
  for (var u = 0u; u < UNITS; u++) { dx4[at + u] = v; }
}

// Planes that are not whole vec4s (7x7 = 49, the last stage of an ImageNet ResNet): dx as one
// run of vec4s, each holding elements of at most two planes (H * W >= 4), so one store of 4
// floats costs two loads of gy instead of four loads and four stores. The total is a multiple
// of 4 (the launcher checks).
@compute @workgroup_size(WG)
fn main_split_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let first = i * 4u;
  if (first >= p.planes * PLANE) { return; }
  let plane = first / PLANE;
  let next = vec4<u32>(first, first + 1u, first + 2u, first + 3u) >= vec4<u32>((plane + 1u) * PLANE);
  let a = gy[plane] * p.scale;
  let b = gy[min(plane + 1u, p.planes - 1u)] * p.scale;   // unused when the vec4 is in one plane
  dx4[i] = select(vec4<f32>(a), vec4<f32>(b), next);
}

// Planes that are not whole vec4s, four planes per invocation (CPU adapters; the number of
// planes a multiple of 4): the four planes' dx are PLANE aligned vec4s (PLANE = H * W), and
// their four gradients one vec4 of gy, so the invocation loads once and stores PLANE vec4s, each
// component taking the share of its plane, (4v + e) / PLANE. main_split_vec4 loads gy twice per
// vec4 stored (37-39% of the copy ceiling on [32, 512, 7, 7]).
// Grid: PER_PLANE invocations per group of 4 planes (each storing UNITS consecutive vec4s,
// PER_PLANE * UNITS = PLANE), in x (spilling into y).
@compute @workgroup_size(WG)
fn quad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let index = gid.x + gid.y * nwg.x * WG;
  let group = index / PER_PLANE;
  if (group >= p.planes / 4u) { return; }
  let share = gy4[group] * p.scale;
  let first = (index - group * PER_PLANE) * UNITS;   // first vec4 within the group
  for (var u = 0u; u < UNITS; u++) {
    let v = first + u;
    let plane = (vec4<u32>(4u * v) + vec4<u32>(0u, 1u, 2u, 3u)) / PLANE;
    dx4[group * PLANE + v] = vec4<f32>(share[plane.x], share[plane.y], share[plane.z], share[plane.w]);
  }
}
