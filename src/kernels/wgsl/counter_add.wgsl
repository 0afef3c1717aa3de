// counter_add.wgsl — counter[i] += delta, in place, i32: BatchNorm's num_batches_tracked.
//
// torch increments `num_batches_tracked` on every training forward. Keeping the counter on the
// GPU (instead of on the host) means a training step needs no upload for it, and a state dict
// loaded with copyInto stays the single source of truth. The elementwise kernels are f32-only;
// this one adds an i32 constant without going through floats.
// One invocation per element (a BatchNorm counter has one). Reference: `counter[i] + delta`.
// Bindings: 0 counter (read_write, i32), 1 params. Launcher: src/kernels/counter.ts.

struct Params {
  numel: u32,
  delta: i32,
}

@group(0) @binding(0) var<storage, read_write> counter: array<i32>;
@group(0) @binding(1) var<uniform> p: Params;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let idx = gid.x;
  if (idx >= p.numel) { return; }
  counter[idx] = counter[idx] + p.delta;
}
