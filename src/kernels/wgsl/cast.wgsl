// cast.wgsl — dtype conversion between int32 and float32 (contiguous).
// TO_FLOAT = 1: out = f32(src as i32); TO_FLOAT = 0: out = i32(trunc(src as f32)).
// Bindings: 0 src (read, raw bits), 1 out (write, raw bits), 2 params. Launcher: src/kernels/cast.ts.

struct Params { numel: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> out: array<u32>;
@group(0) @binding(2) var<uniform> p: Params;

override TO_FLOAT: u32 = 1u;
override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.numel) { return; }
  let bits = src[idx];
  if (TO_FLOAT == 1u) {
    out[idx] = bitcast<u32>(f32(bitcast<i32>(bits)));
  } else {
    out[idx] = bitcast<u32>(i32(trunc(bitcast<f32>(bits))));
  }
}
