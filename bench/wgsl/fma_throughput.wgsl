// fma_throughput.wgsl — FMA throughput in the form a GEMM inner loop has: 8 vec4 accumulators
// a_j = fma(x, m_j, a_j) whose products do not depend on the previous step (only the adds
// chain), 4 steps per loop trip. On CPU adapters this reaches ~2.5x fma_peak.wgsl; it is the
// honest upper bound for a kernel made of multiply-adds. Reported next to the ceiling.
//
// FLOPs = invocations * iters * 4 (steps) * 8 (accumulators) * 4 (vec4 lanes) * 2.
// Binding 0: out (invocations) vec4. Launcher: bench/ceiling.ts (measureFmaThroughput).

struct PeakParams {
  iters: u32,
  mul: f32,
  add: f32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> p: PeakParams;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  let seed = vec4<f32>(f32(i & 255u)) * 1e-3;
  let m = vec4<f32>(p.mul);
  let c = vec4<f32>(p.add);
  var x = seed + 0.5;
  var a0 = seed; var a1 = seed; var a2 = seed; var a3 = seed;
  var a4 = seed; var a5 = seed; var a6 = seed; var a7 = seed;
  for (var t = 0u; t < p.iters; t++) {
    for (var u = 0u; u < 4u; u++) {   // constant trip count: unrolled by the compiler
      a0 = fma(x, m, a0); a1 = fma(x, c, a1); a2 = fma(x, m, a2); a3 = fma(x, c, a3);
      a4 = fma(x, m, a4); a5 = fma(x, c, a5); a6 = fma(x, m, a6); a7 = fma(x, c, a7);
    }
    x = x * m;
  }
  out[i] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
}
