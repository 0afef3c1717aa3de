// cast.wgsl — dtype conversion between int32 and float32 (contiguous, from the buffer's start).
// TO_FLOAT = 1: out = f32(src as i32); TO_FLOAT = 0: out = i32(trunc(src as f32)).
// V vec4s per invocation, WG vec4s apart so that neighbouring lanes touch neighbouring memory
// (as elementwise_unary.wgsl's main_vec4): one float per invocation ran at ~0.27x relu's byte
// rate on lavapipe. The last vec4 may run past numel into the buffer's padding (buffers are whole
// vec4s), which is never read back.
// Bindings: 0 src (read, raw bits), 1 out (write, raw bits), 2 params. Launcher: src/kernels/cast.ts.

struct Params { numel: u32, _p0: u32, _p1: u32, _p2: u32 }

@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<u32>>;
@group(0) @binding(2) var<uniform> p: Params;

override TO_FLOAT: u32 = 1u;
override WG: u32 = 256u;
override V: u32 = 1u;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tile = (wid.x + wid.y * nwg.x) * WG * V;
  for (var k = 0u; k < V; k++) {
    let i = tile + k * WG + lid.x;
    if (i * 4u >= p.numel) { return; }
    let bits = src[i];
    if (TO_FLOAT == 1u) {
      out[i] = bitcast<vec4<u32>>(vec4<f32>(bitcast<vec4<i32>>(bits)));
    } else {
      out[i] = bitcast<vec4<u32>>(vec4<i32>(trunc(bitcast<vec4<f32>>(bits))));
    }
  }
}
