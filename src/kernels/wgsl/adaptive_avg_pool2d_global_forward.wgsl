// adaptive_avg_pool2d_global_forward.wgsl — global average pooling, the (1, 1) case of adaptive
// average pooling: one mean per plane, NCHW f32, deterministic.
//
// Legend: x (N, C, H, W) seen as `planes` = N*C rows of S = H*W values; y (N, C, 1, 1).
//   y[plane] = (1 / S) * sum_s x[plane, s]
// Two layouts, both summing in a fixed order (the same result every run):
// - `main`, `main_vec4` (GPUs): one workgroup per plane; lane l adds values l, l + WG, ... (vec4s
//   in `main_vec4` when S % 4 == 0, S then counting vec4s), then a fixed tree adds the lanes.
//   Neighbouring lanes read neighbouring values (coalesced). The launcher picks WG = 16 for small
//   planes (7x7, 8x8) so few lanes idle, 64 otherwise. Grid: x = plane (spilling into y).
// - `per_lane`, `per_lane_vec4` (CPU adapters, llvmpipe): one plane per lane, summed in one loop
//   with no tree and no barriers. There lanes are SIMD lanes of one CPU thread and every load
//   walks the lanes anyway, so coalescing buys nothing, while the tree's workgroup-memory traffic
//   and barriers cost as much as the sum itself on small planes (18-47% of the copy ceiling
//   before, on 32x32 and 56x56 planes). Grid: one invocation per plane, in x (spilling into y).
// - `per_lane_quad` (CPU adapters, planes that are not whole vec4s, e.g. 7x7 = 49 floats, and a
//   number of planes divisible by 4): four planes per lane. Four consecutive planes are PLANE
//   aligned vec4s (PLANE = H*W), so the lane reads them with PLANE vec4 loads instead of 4*PLANE
//   scalar ones (54% of the copy ceiling on [32, 512, 7, 7]), and sends each component to its
//   plane's sum, masking the components of the neighbouring planes in the two vec4s it shares
//   with them (loaded twice: 52 loads for four 7x7 planes).
//   y is stored as one vec4. Grid: one invocation per 4 planes, in x (spilling into y).
// Bindings: 0 x (read), 1 y (write), 2 params.
// Reference: src/kernels/reference/pool.ts (adaptiveAvgPool2dRef). Launcher: src/kernels/adaptive-pool.ts.

struct GlobalPoolParams {
  planes: u32,
  S: u32,                 // units per plane (f32s, or vec4s in main_vec4)
  scale: f32,             // 1 / (H * W)
  _p0: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: GlobalPoolParams;

override WG: u32 = 64u;
override PLANE: u32 = 1u;   // per_lane_quad: floats per plane (H * W)

var<workgroup> tree: array<f32, WG>;

fn finish(lid: u32, plane: u32, partial: f32) {
  tree[lid] = partial;
  workgroupBarrier();
  for (var width = WG / 2u; width > 0u; width /= 2u) {
    if (lid < width) { tree[lid] = tree[lid] + tree[lid + width]; }
    workgroupBarrier();
  }
  if (lid == 0u) { y[plane] = tree[0] * p.scale; }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane = wid.x + wid.y * nwg.x;
  if (plane >= p.planes) { return; }   // uniform per workgroup: the barriers are safe
  let base = plane * p.S;
  var acc = 0.0;
  for (var s = lid.x; s < p.S; s += WG) { acc += x[base + s]; }
  finish(lid.x, plane, acc);
}

@compute @workgroup_size(WG)
fn per_lane(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane = gid.x + gid.y * nwg.x * WG;
  if (plane >= p.planes) { return; }
  let base = plane * p.S;
  var acc = 0.0;
  for (var s = 0u; s < p.S; s++) { acc += x[base + s]; }
  y[plane] = acc * p.scale;
}

@compute @workgroup_size(WG)
fn per_lane_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane = gid.x + gid.y * nwg.x * WG;
  if (plane >= p.planes) { return; }
  let base = plane * p.S;
  var acc = vec4<f32>(0.0);
  for (var s = 0u; s < p.S; s++) { acc += x4[base + s]; }
  y[plane] = ((acc.x + acc.y) + (acc.z + acc.w)) * p.scale;
}

@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
             @builtin(num_workgroups) nwg: vec3<u32>) {
  let plane = wid.x + wid.y * nwg.x;
  if (plane >= p.planes) { return; }
  let base = plane * p.S;
  var acc = vec4<f32>(0.0);
  for (var s = lid.x; s < p.S; s += WG) { acc += x4[base + s]; }
  finish(lid.x, plane, (acc.x + acc.y) + (acc.z + acc.w));
}

@compute @workgroup_size(WG)
fn per_lane_quad(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let quad = gid.x + gid.y * nwg.x * WG;
  if (quad >= p.planes / 4u) { return; }
  let base = quad * PLANE;
  var sums: vec4<f32>;
  for (var g = 0u; g < 4u; g++) {
    // Plane g is floats g*PLANE .. (g+1)*PLANE - 1 of the group, in vec4s v0 .. v1; the two end
    // vec4s may hold floats of the neighbouring planes (loaded again by them), masked out here.
    let f0 = g * PLANE;
    let f1 = f0 + PLANE;
    var acc = vec4<f32>(0.0);
    for (var v = f0 / 4u; v <= (f1 - 1u) / 4u; v++) {
      let f = vec4<u32>(4u * v) + vec4<u32>(0u, 1u, 2u, 3u);
      acc += select(vec4<f32>(0.0), x4[base + v], (f >= vec4<u32>(f0)) & (f < vec4<u32>(f1)));
    }
    sums[g] = (acc.x + acc.y) + (acc.z + acc.w);
  }
  y4[quad] = sums * p.scale;
}
