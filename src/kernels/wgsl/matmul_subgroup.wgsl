// matmul_subgroup.wgsl — C[b] = A[b] @ B[b], f32, for CPU adapters with 8-lane subgroups
// (Mesa llvmpipe/lavapipe). Same product as matmul_naive.wgsl (the reference it is tested
// against); the layout of the operands is stricter, see "Operands" below.
//
// Why this shape. llvmpipe runs the 8 invocations of a subgroup as the 8 lanes of one AVX
// register. Arithmetic is cheap; a load that differs per lane is a loop over the lanes with a
// bounds check per element (~10 instructions per float), so the kernel is built to need as few
// loaded floats per multiply-add as possible (see shared/docs/lavapipe.md):
//   * A subgroup computes a 32 x 32 tile of C: 32 rows (m0 .. m0+31) x 8 lanes x 4 columns.
//   * Per step of 4 k, lane l loads ONE vec4 of A for each of 4 rows (rows m0 + 8j + l,
//     k .. k+3) and the subgroup shares them with subgroupBroadcast: 4 loads per lane give the
//     whole 32 x 4 block of A. Lane l also loads the 4 x 4 block of B it needs (rows k .. k+3,
//     its 4 columns) as 4 vec4. That is 8 loaded vec4 for 32 x 4 x 4 = 512 multiply-adds.
//   * The 32 x 4 accumulators of a lane (128 floats) do not fit in registers; LLVM keeps some
//     on the stack, which costs plain vector loads/stores and is still cheaper than a smaller
//     tile that needs more gathered loads per multiply-add (measured: 16, 32 and 48 rows are
//     within noise; 8 rows is ~25% slower, unrolling k by 8 is ~40% slower).
//
// Operands (element strides in vec4 units; the launcher packs operands that do not qualify):
//   A: (batch, M, K) with K contiguous, K % 4 == 0   A[b, m, k4] = A4[a_offset + b*a_batch + m*a_row + k4]
//   B: (batch, K, N) with N contiguous, padded to a whole vec4 per row (n4 < N4)
//                                                    B[b, k, n4] = B4[b_offset + b*b_batch + k*b_row + n4]
//   C: (batch, M, N) contiguous, written as vec4s when N % 4 == 0 (C_VEC4, through C4: a
//      lane's 4 columns of a row are then one aligned vec4), else element by element (any N).
//      With small K the stores weigh: a 32 x 32 tile takes 8 loads per 4 k and 128 scalar
//      stores per lane, so at K = 148 (the stem's im2col GEMM) or 64-256 (1x1 convolutions) the
//      32 vec4 stores made these GEMMs 1.04-1.24x faster (CPU time, lavapipe, batch 8).
// Epilogue (pipeline constants, for convolutions run as GEMMs at inference, where a folded batch
// norm, the residual add and the ReLU then cost no pass of their own):
//   C[b, m, n] = relu?(sum_k A[b, m, k] B[b, k, n] + bias[m] + res[b, m, n])
// HAS_BIAS adds bias (M), HAS_RESIDUAL adds res (laid out as C; read as one vec4 per 4 columns
// when N % 4 == 0, RES_VEC4: a scalar read per value made a small 1x1 layer 2x slower), RELU
// clamps at 0.
// Edges: rows past M and vec4 columns past N4 are clamped on load and never stored, so any
// M and N work; K must be a multiple of 4 (the launcher zero-pads it).
// Grid: (ceil(M / 32), ceil(N / (32 * SUBGROUPS)), batch), or with FOLD_BATCH (ceil(M / 32),
// ceil(batch * N4 / (8 * SUBGROUPS)), 1); workgroup = SUBGROUPS subgroups side by side along N.
// Row tiles vary fastest, so workgroups that run one after the other read the same columns of B
// while it is still in cache (at 2048 this was worth ~1.5x over N-fastest).
// Launcher: src/kernels/matmul.ts (gemm). Reference: matmul_naive.wgsl.

enable subgroups;

struct SubgroupGemmParams {      // packed by gemm() in src/kernels/matmul.ts, same order
  M: u32, N: u32, K4: u32, N4: u32,
  a_offset: u32, a_batch: u32, a_row: u32, batch: u32,
  b_offset: u32, b_batch: u32, b_row: u32, _pad1: u32,
}

@group(0) @binding(0) var<storage, read> A4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> B4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> p: SubgroupGemmParams;
@group(0) @binding(4) var<storage, read> bias: array<f32>;   // (M), read when HAS_BIAS
@group(0) @binding(5) var<storage, read> res: array<f32>;    // as C, read when HAS_RESIDUAL
@group(0) @binding(6) var<storage, read> res4: array<vec4<f32>>;   // res again, when N % 4 == 0
@group(0) @binding(7) var<storage, read_write> C4: array<vec4<f32>>;   // C as vec4s, when C_VEC4
// (Only one of C and C4 is bound to the output: WebGPU forbids two writable bindings of one
// buffer in a dispatch, so the launcher binds a stand-in to the other.)

const LANES = 8u;          // the subgroup size this kernel is written for (checked by the launcher)
const TILE_ROWS = 32u;     // rows of C per subgroup: 4 A loads x 8 lanes
override SUBGROUPS: u32 = 1u;
override HAS_BIAS: bool = false;
override HAS_RESIDUAL: bool = false;
override RELU: bool = false;
override RES_VEC4: bool = false;
override C_VEC4: bool = false;
// FOLD_BATCH (A shared by the batch, a_batch == 0): the grid's columns run over the vec4 columns
// of all the batch's products side by side, instead of one product per grid z. A 32-column tile
// then idles no lanes at the end of each product: 1x1 convolutions on 7x7 and 14x14 images have
// 13 and 49 vec4 columns per image, tiles of 8 (19% and 12.5% of the lanes idle one per image).
override FOLD_BATCH: bool = false;

// c += a.x * b0 + a.y * b1 + a.z * b2 + a.w * b3: one row of A (4 k) times the 4 x 4 block of B.
fn madd(a: vec4<f32>, b0: vec4<f32>, b1: vec4<f32>, b2: vec4<f32>, b3: vec4<f32>, c: vec4<f32>) -> vec4<f32> {
  return fma(vec4<f32>(a.w), b3, fma(vec4<f32>(a.z), b2, fma(vec4<f32>(a.y), b1, fma(vec4<f32>(a.x), b0, c))));
}

// Write 8 rows (m0 .. m0+7) x 4 columns (n .. n+3) of accumulators, skipping the edges.
fn store_rows(acc: array<vec4<f32>, 8>, m0: u32, n: u32, b: u32) {
  for (var i = 0u; i < 8u; i++) {
    let m = m0 + i;
    if (m >= p.M) { return; }
    let row = (b * p.M + m) * p.N;
    var r4 = vec4<f32>(0.0);
    if (HAS_RESIDUAL && RES_VEC4 && n < p.N) { r4 = res4[(row + n) / 4u]; }
    if (C_VEC4) {
      if (n >= p.N) { return; }
      var v4 = acc[i];
      if (HAS_BIAS) { v4 += vec4<f32>(bias[m]); }
      if (HAS_RESIDUAL) { v4 += r4; }
      if (RELU) { v4 = max(v4, vec4<f32>(0.0)); }
      C4[(row + n) / 4u] = v4;
      continue;
    }
    for (var c = 0u; c < 4u; c++) {
      if (n + c >= p.N) { continue; }
      var v = acc[i][c];
      if (HAS_BIAS) { v += bias[m]; }
      if (HAS_RESIDUAL) {
        if (RES_VEC4) { v += r4[c]; } else { v += res[row + n + c]; }
      }
      if (RELU) { v = max(v, 0.0); }
      C[row + n + c] = v;
    }
  }
}

@compute @workgroup_size(LANES * SUBGROUPS)
fn main(@builtin(workgroup_id) wg: vec3<u32>,
        @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_invocation_id) lane: u32) {
  var b = wg.z;
  let m0 = wg.x * TILE_ROWS;
  var n4 = (wg.y * SUBGROUPS + li / LANES) * LANES + lane;   // this lane's vec4 of columns
  if (FOLD_BATCH) {
    // Vec4 column n4 of the folded grid is column n4 % N4 of product n4 / N4. A lane past the
    // last product computes with that product's last column and stores nothing (n4 = N4).
    let product = n4 / p.N4;
    b = min(product, p.batch - 1u);
    n4 = select(n4 - product * p.N4, p.N4, product >= p.batch);
  }
  let b_at = p.b_offset + b * p.b_batch + min(n4, p.N4 - 1u);
  let a_batch = p.a_offset + b * p.a_batch;
  // The A rows this lane loads: m0 + lane, m0 + 8 + lane, m0 + 16 + lane, m0 + 24 + lane.
  let a_at0 = a_batch + min(m0 + lane, p.M - 1u) * p.a_row;
  let a_at1 = a_batch + min(m0 + 8u + lane, p.M - 1u) * p.a_row;
  let a_at2 = a_batch + min(m0 + 16u + lane, p.M - 1u) * p.a_row;
  let a_at3 = a_batch + min(m0 + 24u + lane, p.M - 1u) * p.a_row;
  // accJ[i] holds C[m0 + 8J + i, 4 * n4 .. 4 * n4 + 3]
  var acc0: array<vec4<f32>, 8>;
  var acc1: array<vec4<f32>, 8>;
  var acc2: array<vec4<f32>, 8>;
  var acc3: array<vec4<f32>, 8>;
  for (var k4 = 0u; k4 < p.K4; k4++) {
    let kb = b_at + k4 * 4u * p.b_row;
    let b0 = B4[kb];                 // B[k,     lane's 4 columns]
    let b1 = B4[kb + p.b_row];       // B[k + 1, ...]
    let b2 = B4[kb + 2u * p.b_row];
    let b3 = B4[kb + 3u * p.b_row];
    let a0 = A4[a_at0 + k4];         // A[m0 + lane, k .. k+3]
    let a1 = A4[a_at1 + k4];
    let a2 = A4[a_at2 + k4];
    let a3 = A4[a_at3 + k4];
    // Row m0 + 8J + i of A is in lane i of aJ. (subgroupBroadcast needs a constant lane,
    // hence the spelled-out rows; helper functions over the arrays measured ~30% slower.)
    acc0[0] = madd(subgroupBroadcast(a0, 0u), b0, b1, b2, b3, acc0[0]);
    acc0[1] = madd(subgroupBroadcast(a0, 1u), b0, b1, b2, b3, acc0[1]);
    acc0[2] = madd(subgroupBroadcast(a0, 2u), b0, b1, b2, b3, acc0[2]);
    acc0[3] = madd(subgroupBroadcast(a0, 3u), b0, b1, b2, b3, acc0[3]);
    acc0[4] = madd(subgroupBroadcast(a0, 4u), b0, b1, b2, b3, acc0[4]);
    acc0[5] = madd(subgroupBroadcast(a0, 5u), b0, b1, b2, b3, acc0[5]);
    acc0[6] = madd(subgroupBroadcast(a0, 6u), b0, b1, b2, b3, acc0[6]);
    acc0[7] = madd(subgroupBroadcast(a0, 7u), b0, b1, b2, b3, acc0[7]);
    acc1[0] = madd(subgroupBroadcast(a1, 0u), b0, b1, b2, b3, acc1[0]);
    acc1[1] = madd(subgroupBroadcast(a1, 1u), b0, b1, b2, b3, acc1[1]);
    acc1[2] = madd(subgroupBroadcast(a1, 2u), b0, b1, b2, b3, acc1[2]);
    acc1[3] = madd(subgroupBroadcast(a1, 3u), b0, b1, b2, b3, acc1[3]);
    acc1[4] = madd(subgroupBroadcast(a1, 4u), b0, b1, b2, b3, acc1[4]);
    acc1[5] = madd(subgroupBroadcast(a1, 5u), b0, b1, b2, b3, acc1[5]);
    acc1[6] = madd(subgroupBroadcast(a1, 6u), b0, b1, b2, b3, acc1[6]);
    acc1[7] = madd(subgroupBroadcast(a1, 7u), b0, b1, b2, b3, acc1[7]);
    acc2[0] = madd(subgroupBroadcast(a2, 0u), b0, b1, b2, b3, acc2[0]);
    acc2[1] = madd(subgroupBroadcast(a2, 1u), b0, b1, b2, b3, acc2[1]);
    acc2[2] = madd(subgroupBroadcast(a2, 2u), b0, b1, b2, b3, acc2[2]);
    acc2[3] = madd(subgroupBroadcast(a2, 3u), b0, b1, b2, b3, acc2[3]);
    acc2[4] = madd(subgroupBroadcast(a2, 4u), b0, b1, b2, b3, acc2[4]);
    acc2[5] = madd(subgroupBroadcast(a2, 5u), b0, b1, b2, b3, acc2[5]);
    acc2[6] = madd(subgroupBroadcast(a2, 6u), b0, b1, b2, b3, acc2[6]);
    acc2[7] = madd(subgroupBroadcast(a2, 7u), b0, b1, b2, b3, acc2[7]);
    acc3[0] = madd(subgroupBroadcast(a3, 0u), b0, b1, b2, b3, acc3[0]);
    acc3[1] = madd(subgroupBroadcast(a3, 1u), b0, b1, b2, b3, acc3[1]);
    acc3[2] = madd(subgroupBroadcast(a3, 2u), b0, b1, b2, b3, acc3[2]);
    acc3[3] = madd(subgroupBroadcast(a3, 3u), b0, b1, b2, b3, acc3[3]);
    acc3[4] = madd(subgroupBroadcast(a3, 4u), b0, b1, b2, b3, acc3[4]);
    acc3[5] = madd(subgroupBroadcast(a3, 5u), b0, b1, b2, b3, acc3[5]);
    acc3[6] = madd(subgroupBroadcast(a3, 6u), b0, b1, b2, b3, acc3[6]);
    acc3[7] = madd(subgroupBroadcast(a3, 7u), b0, b1, b2, b3, acc3[7]);
  }
  let n = n4 * 4u;
  store_rows(acc0, m0, n, b);
  store_rows(acc1, m0 + 8u, n, b);
  store_rows(acc2, m0 + 16u, n, b);
  store_rows(acc3, m0 + 24u, n, b);
}
