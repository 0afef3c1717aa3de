// fill.wgsl — out[i] = start + i * step: `full` (step 0) and `arange`, f32 or i32 bits.
// Bindings: 0 out (write), 1 params. Launcher: src/kernels/fill.ts.

struct Params {
  numel: u32,
  is_int: u32,     // 1: write i32 values (as bits) instead of f32
  start: f32,
  step: f32,
}

@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<uniform> p: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.numel) { return; }
  let v = p.start + f32(idx) * p.step;
  out[idx] = select(bitcast<u32>(v), bitcast<u32>(i32(round(v))), p.is_int == 1u);
}
