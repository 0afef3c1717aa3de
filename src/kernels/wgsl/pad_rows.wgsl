// pad_rows.wgsl — copy rows of Q floats into rows of Q4 = Q rounded up to 4, zero-filling the
// extra columns, so that a row kernel can read every row as aligned vec4s.
//   x: (rows, Q)    y: (rows, Q4)    y[r, q] = x[r, q] for q < Q, 0 for Q <= q < Q4
// One invocation writes one vec4 of y (4 masked scalar loads of x). The sizes are pipeline
// constants: the index arithmetic divides by them, and on a CPU adapter a division by a runtime
// value is done lane by lane (the general strided copy, copy_strided.wgsl, pays that, and its
// zero fill is a second pass). Used by the conv2d row kernels for gy with Q % 4 != 0 and, on
// CPU adapters, for x of "same" 3-wide rows with W % 4 != 0 (alignRows).
// Bindings: 0 x (read), 1 y (write, vec4s), 2 params. Launcher: padRows() in src/kernels/conv2d.ts.

struct PadParams {
  rows: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y4: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> p: PadParams;

override WG: u32 = 256u;
override Q: u32 = 1u;
override Q4: u32 = 4u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;   // vec4 of y
  if (i >= p.rows * (Q4 / 4u)) { return; }
  let r = i / (Q4 / 4u);
  let q0 = (i - r * (Q4 / 4u)) * 4u;
  var v = vec4<f32>(0.0);
  for (var c = 0u; c < 4u; c++) {
    let inside = q0 + c < Q;
    v[c] = select(0.0, x[select(0u, r * Q + q0 + c, inside)], inside);
  }
  y4[i] = v;
}
