// fma_peak.wgsl — the FMA ceiling as shared/docs/lavapipe.md defines it: each invocation runs
// 4 independent chains a = fma(a, m, c) of vec4 (4 accumulators, workgroup 64), no memory
// traffic inside the loop. Every GFLOP/s figure in bench/ is reported as a fraction of this
// number measured in the same run (bench/ceiling.ts measureFmaCeiling).
// Each step depends on the previous one in its chain, so this kernel is partly bound by the
// add/multiply latency; fma_throughput.wgsl measures the independent-product form a GEMM uses.
//
// FLOPs = invocations * iters * 4 (accumulators) * 4 (vec4 lanes) * 2 (multiply + add).
// Binding 0: out (invocations) vec4, written so the compiler cannot drop the work.

struct PeakParams {
  iters: u32,
  mul: f32,     // 0.9999: the chains stay bounded and never become denormal
  add: f32,     // 1e-4
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
  var a0 = seed + 0.1;
  var a1 = seed + 0.2;
  var a2 = seed + 0.3;
  var a3 = seed + 0.4;
  for (var t = 0u; t < p.iters; t++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
  }
  out[i] = (a0 + a1) + (a2 + a3);
}
