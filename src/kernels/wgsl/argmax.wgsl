// argmax.wgsl — index of the largest value along the last axis of a contiguous (rows, cols)
// f32 matrix; the first index wins ties, as in PyTorch. Output int32 (rows).
// Bindings: 0 x (read), 1 out (write, i32), 2 params. Launcher: src/kernels/reduce.ts.

struct Params { rows: u32, cols: u32, _p0: u32, _p1: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;
@group(0) @binding(2) var<uniform> p: Params;

override WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = gid.x + gid.y * nwg.x * WG;
  if (row >= p.rows) { return; }
  var best = x[row * p.cols];
  var best_i = 0u;
  for (var c = 1u; c < p.cols; c++) {
    let v = x[row * p.cols + c];
    if (v > best) { best = v; best_i = c; }
  }
  out[row] = i32(best_i);
}
