// copy_bandwidth.wgsl — the memory ceiling of a shader: dst = src, 4 vec4 per invocation
// (strided by the grid so that a workgroup's loads are adjacent).
// GB/s = 2 (read + write) * bytes / time.
// Bindings: 0 src (n4 vec4, read), 1 dst (n4 vec4, write), 2 params.
// Launcher: bench/ceiling.ts (measureBandwidth).

struct CopyParams {
  n4: u32,        // vec4 count
  stride: u32,    // invocations in the grid (= n4 / 4)
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: CopyParams;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.stride) { return; }
  for (var r = 0u; r < 4u; r++) {
    let j = i + r * p.stride;
    if (j < p.n4) { dst[j] = src[j]; }
  }
}
