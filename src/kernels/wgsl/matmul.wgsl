// matmul.wgsl — C[b] = A[b] @ B[b], f32, register-blocked.
//
// Same contract as matmul_naive.wgsl (strided A and B, contiguous C). Each invocation computes a
// 4x4 block of C held in 16 registers: per step of k it loads 4 values of A (a column of the
// block) and 4 of B (a row), and does 16 multiply-adds — 4x fewer loads per FMA than the
// naive kernel. On lavapipe (CPU) loads are the cost, so this matters more than tiling in
// workgroup memory; see shared/docs/lavapipe.md. Edges: rows/cols past M/N are clamped on load
// and skipped on store, so any size works (37x53 @ 53x29).
// Bindings: 0 A, 1 B (read), 2 C (write), 3 params. Launcher: src/kernels/matmul.ts.

struct Params {
  M: u32, N: u32, K: u32, batch: u32,
  a_offset: u32, a_batch: u32, a_row: u32, a_col: u32,
  b_offset: u32, b_batch: u32, b_row: u32, b_col: u32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n0 = gid.x * 4u;
  let m0 = gid.y * 4u;
  let b = gid.z;
  if (m0 >= p.M || n0 >= p.N) { return; }
  // Clamp edge rows/columns so loads stay in bounds; their results are never stored.
  var a_rows: array<u32, 4>;
  var b_cols: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    a_rows[i] = p.a_offset + b * p.a_batch + min(m0 + i, p.M - 1u) * p.a_row;
    b_cols[i] = p.b_offset + b * p.b_batch + min(n0 + i, p.N - 1u) * p.b_col;
  }
  var acc: array<vec4<f32>, 4>;   // acc[i][j] = C[m0 + i, n0 + j]
  for (var k = 0u; k < p.K; k++) {
    let a = vec4<f32>(A[a_rows[0] + k * p.a_col], A[a_rows[1] + k * p.a_col],
                      A[a_rows[2] + k * p.a_col], A[a_rows[3] + k * p.a_col]);
    let bk = k * p.b_row;
    let bv = vec4<f32>(B[b_cols[0] + bk], B[b_cols[1] + bk], B[b_cols[2] + bk], B[b_cols[3] + bk]);
    acc[0] = fma(vec4<f32>(a.x), bv, acc[0]);
    acc[1] = fma(vec4<f32>(a.y), bv, acc[1]);
    acc[2] = fma(vec4<f32>(a.z), bv, acc[2]);
    acc[3] = fma(vec4<f32>(a.w), bv, acc[3]);
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < 4u; j++) {
      if (n0 + j < p.N) { C[(b * p.M + m) * p.N + n0 + j] = acc[i][j]; }
    }
  }
}
