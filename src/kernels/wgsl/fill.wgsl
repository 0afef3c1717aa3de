// fill.wgsl — out[i] = start + i * step: `full` (step 0) and `arange`, f32 or i32 bits.
// V vec4s per invocation, WG vec4s apart so that neighbouring lanes write neighbouring memory; the
// last vec4 may run past numel into the buffer's padding (buffers are whole vec4s), which is never
// read back. Why vec4s: on llvmpipe every store whose address differs per lane is a loop over the
// lanes, and a store-only pass is nothing but its stores and its index work. Measured against
// relu's byte rate on the same tensors (lavapipe, worker CPU time): one float per invocation
// 0.12-0.14x; vec4 stores 0.37-0.43x while each element still converted its index to f32;
// `full` as a splat of the value (CONSTANT) 0.96-1.27x.
// Bindings: 0 out (write, as vec4<u32>s), 1 params. Launcher: src/kernels/fill.ts.

struct Params {
  numel: u32,
  _p0: u32,
  start: f32,
  step: f32,
}

@group(0) @binding(0) var<storage, read_write> out4: array<vec4<u32>>;
@group(0) @binding(1) var<uniform> p: Params;

override WG: u32 = 256u;
override V: u32 = 1u;            // vec4s per invocation
override IS_INT: bool = false;   // write i32 values (as bits) instead of f32
// Step 0 (`full`): every element is start itself (so full(-0.0) keeps its sign, as in PyTorch,
// where start + i * 0 would give +0.0), without the per-element index conversions.
override CONSTANT: bool = false;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tile = (wid.x + wid.y * nwg.x) * WG * V;
  for (var k = 0u; k < V; k++) {
    let i = tile + k * WG + lid.x;
    if (i * 4u >= p.numel) { return; }
    var v = vec4<f32>(p.start);
    if (!CONSTANT) { v += vec4<f32>(vec4<u32>(4u * i) + vec4<u32>(0u, 1u, 2u, 3u)) * p.step; }
    if (IS_INT) { out4[i] = bitcast<vec4<u32>>(vec4<i32>(round(v))); } else { out4[i] = bitcast<vec4<u32>>(v); }
  }
}
