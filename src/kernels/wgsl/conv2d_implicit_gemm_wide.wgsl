// conv2d_implicit_gemm_wide.wgsl — the implicit-GEMM convolution of conv2d_implicit_gemm.wgsl
// with 128 x 128 tiles and 8 x 8 outputs per invocation (for GPUs; an autotune candidate).
//
// Same three passes, operands, split reduction and bindings as conv2d_implicit_gemm.wgsl (read
// that file first: its header explains the implicit GEMM). What changes is the register
// blocking. There, each of the 16 x 16 invocations computes a 4 x 4 block of a 64 x 64 tile:
// per reduction step it reads one vec4 of A and one of B from workgroup memory for 16
// multiply-adds. Here each invocation computes an 8 x 8 block of a 128 x 128 tile: two vec4 of A
// and two of B for 64 multiply-adds, so workgroup memory is read half as often per
// multiply-add, and each element gathered from global memory serves 128 outputs instead of 64.
// The cost: 64 accumulators per invocation (registers) and a quarter as many workgroups for the
// same output (the launcher splits reductions to keep a large GPU busy).
//
// An invocation's 8 rows are 4ty..4ty+3 and 64+4ty..64+4ty+3, its 8 columns 4tx..4tx+3 and
// 64+4tx..64+4tx+3: each half reads workgroup memory exactly as the 64 x 64 kernel does, so the
// 16 invocations that share a ty read the same A vec4 (a broadcast) and neighbouring B vec4s.
// Staging: A[128 rows, 16 steps] and B[16 steps, 128 columns], 8 + 8 elements per invocation;
// an invocation's B column is still one column, decoded once.
// The second pass of a split reduction is conv2d_implicit_gemm.wgsl's sum_splits (same layout).
// Bindings: 0 A source (w, w, gy), 1 B source (x, gy, x), 2 out, 3 params, 4 bias, 5 residual.

struct Conv2dParams {   // the layer's geometry, CONV2D_PARAM_FIELDS in src/kernels/conv2d.ts
  N: u32, C: u32, H: u32, W: u32,
  K: u32, R: u32, S: u32, G: u32,
  P: u32, Q: u32, stride_h: u32, stride_w: u32,
  pad_h: u32, pad_w: u32, dil_h: u32, dil_w: u32,
  C_g: u32, K_g: u32, CRS_g: u32, PQ: u32,
}

struct Params {
  g: Conv2dParams,
  span: u32,           // reduction steps per workgroup z (a multiple of SLAB)
  has_bias: u32,       // forward: add bias[k]
  relu: u32,           // forward epilogue: max(v, 0) after the residual
  has_residual: u32,   // epilogue: add residual at the output's index (forward: a ResNet block's
                       // shortcut; input gradient: the gradient already at the layer's input)
}

@group(0) @binding(0) var<storage, read> a_src: array<f32>;
@group(0) @binding(1) var<storage, read> b_src: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read> residual: array<f32>;

override PASS: u32 = 0u;   // 0 forward, 1 input gradient, 2 weight gradient
override KR: u32 = 3u;     // kernel height R and width S, as constants
override KS: u32 = 3u;
override KRS: u32 = KR * KS;   // derived; the launcher leaves it alone
override PREFETCH: bool = false;  // gather the next slab before computing this one (see main)

const TILE = 128u;   // rows and columns of out per workgroup
const SLAB = 16u;    // reduction steps per staging step
const THREADS = 16u; // invocations per side of the workgroup

// The staged slab, as vec4s (as in conv2d_implicit_gemm.wgsl, A's rows padded by one vec4).
const A_ROW = TILE / 4u + 1u;               // 33
const B_ROW = TILE / 4u;                    // 32
var<workgroup> As: array<vec4<f32>, 528>;   // [SLAB][A_ROW]: rows 4i..4i+3 of step t at As[t * A_ROW + i]
var<workgroup> Bs: array<vec4<f32>, 512>;   // [SLAB][B_ROW]: columns 4j..4j+3 at Bs[t * B_ROW + j]

// The GEMM's sizes for this pass: rows, columns, reduction length.
fn rows() -> u32 { return select(p.g.K, p.g.C, PASS == 1u); }
fn cols() -> u32 {
  if (PASS == 0u) { return p.g.N * p.g.PQ; }
  if (PASS == 1u) { return p.g.N * p.g.H * p.g.W; }
  return p.g.CRS_g;
}
fn reduction() -> u32 {
  if (PASS == 0u) { return p.g.CRS_g; }
  if (PASS == 1u) { return p.g.K * KRS; }
  return p.g.N * p.g.PQ;
}

// What an invocation's B column means, decoded once: a base offset and two signed coordinates.
//   forward: image n's base in x, and the top-left input pixel of output pixel (p, q)
//   input:   image n's base in gy, and h + ph, w + pw of input pixel (h, w)
//   weight:  channel c's plane offset in x, and the tap's offsets r·dh - ph, s·dw - pw
struct Column { base: u32, y: i32, x: i32 }

fn decode_column(col: u32) -> Column {
  if (PASS == 0u) {
    let n = col / p.g.PQ;
    let pq = col % p.g.PQ;
    return Column(n * p.g.C * p.g.H * p.g.W, i32((pq / p.g.Q) * p.g.stride_h) - i32(p.g.pad_h), i32((pq % p.g.Q) * p.g.stride_w) - i32(p.g.pad_w));
  }
  if (PASS == 1u) {
    let hw = p.g.H * p.g.W;
    let n = col / hw;
    let i = col % hw;
    return Column(n * p.g.K * p.g.PQ, i32(i / p.g.W + p.g.pad_h), i32(i % p.g.W + p.g.pad_w));
  }
  let c = col / KRS;
  let rs = col % KRS;
  return Column(c * p.g.H * p.g.W, i32((rs / KS) * p.g.dil_h) - i32(p.g.pad_h), i32((rs % KS) * p.g.dil_w) - i32(p.g.pad_w));
}

// x[n, c, iy, ix] from an image base, or zero in the padding.
fn x_at(base: u32, c: u32, iy: i32, ix: i32) -> f32 {
  if (iy < 0 || ix < 0 || iy >= i32(p.g.H) || ix >= i32(p.g.W)) { return 0.0; }
  return b_src[base + (c * p.g.H + u32(iy)) * p.g.W + u32(ix)];
}

// B[t, col] for the column decoded in `k` (t < reduction(), col < cols()).
fn load_b(k: Column, t: u32) -> f32 {
  if (PASS == 0u) {                              // t = (c, r, s)
    let rs = t % KRS;
    return x_at(k.base, t / KRS, k.y + i32((rs / KS) * p.g.dil_h), k.x + i32((rs % KS) * p.g.dil_w));
  }
  if (PASS == 1u) {                              // t = (k, r, s); gy[n, k, p, q] if (p, q) exists
    let rs = t % KRS;
    let py = k.y - i32((rs / KS) * p.g.dil_h);
    let px = k.x - i32((rs % KS) * p.g.dil_w);
    if (py < 0 || px < 0) { return 0.0; }
    let oy = u32(py) / p.g.stride_h;
    let ox = u32(px) / p.g.stride_w;
    if (oy * p.g.stride_h != u32(py) || ox * p.g.stride_w != u32(px) || oy >= p.g.P || ox >= p.g.Q) { return 0.0; }
    return b_src[k.base + ((t / KRS) * p.g.P + oy) * p.g.Q + ox];
  }
  let n = t / p.g.PQ;                              // t = (n, p, q); x's base is channel c's plane
  let pq = t % p.g.PQ;
  let iy = i32((pq / p.g.Q) * p.g.stride_h) + k.y;
  let ix = i32((pq % p.g.Q) * p.g.stride_w) + k.x;
  if (iy < 0 || ix < 0 || iy >= i32(p.g.H) || ix >= i32(p.g.W)) { return 0.0; }
  return b_src[n * p.g.C * p.g.H * p.g.W + k.base + u32(iy) * p.g.W + u32(ix)];
}

// A[m, t] is at a_src[a_offset(t) + m * a_row_stride()]: linear in m, so an invocation that
// stages 4 rows at one reduction step decodes t once.
fn a_offset(t: u32) -> u32 {
  if (PASS == 0u) { return t; }                                                  // w[m, t]
  if (PASS == 1u) { return (t / KRS) * p.g.C * KRS + t % KRS; }                  // w[k, m, r, s]
  return (t / p.g.PQ) * p.g.K * p.g.PQ + t % p.g.PQ;                             // gy[n, m, p, q]
}
fn a_row_stride() -> u32 {
  if (PASS == 0u) { return p.g.CRS_g; }
  if (PASS == 1u) { return KRS; }
  return p.g.PQ;
}

// Where out[m, col] goes in the output tensor.
fn out_index(m: u32, col: u32) -> u32 {
  if (PASS == 0u) { return ((col / p.g.PQ) * p.g.K + m) * p.g.PQ + col % p.g.PQ; }           // y[n, m, p, q]
  if (PASS == 1u) {
    let hw = p.g.H * p.g.W;
    return ((col / hw) * p.g.C + m) * hw + col % hw;                                    // dx[n, m, h, w]
  }
  return m * p.g.CRS_g + col;                                                           // dw[m, c, r, s]
}

// An invocation's share of a slab, in registers: A rows tid / 16 + 16e at step a_t, and B's
// column at steps tid / 128 + 2e, e = 0..7 (e < 4 in the .lo vectors, e >= 4 in .hi).
// (Vectors, not arrays: an array indexed in a loop that the GPU compiler does not unroll lives
// in slow local memory, and with it every register of this kernel's inner loop.)
struct Staged { a_lo: vec4<f32>, a_hi: vec4<f32>, b_lo: vec4<f32>, b_hi: vec4<f32> }

fn gather_a(e: u32, a_ok: bool, a_base: u32, m0: u32, M: u32, a_stride: u32, tid: u32) -> f32 {
  let am = tid / SLAB + 16u * e;
  if (a_ok && m0 + am < M) { return a_src[a_base + (m0 + am) * a_stride]; }
  return 0.0;
}

fn gather_b(e: u32, t0: u32, t_end: u32, tid: u32, b_ok: bool, column: Column) -> f32 {
  let bt = tid / TILE + 2u * e;
  if (b_ok && t0 + bt < t_end) { return load_b(column, t0 + bt); }
  return 0.0;
}

// Gather an invocation's share of the slab that starts at t0; zeros outside the problem.
fn gather(t0: u32, t_end: u32, m0: u32, M: u32, a_t: u32, a_stride: u32, tid: u32, b_ok: bool, column: Column) -> Staged {
  let a_ok = t0 + a_t < t_end;
  let a_base = a_offset(t0 + a_t);
  let a = vec4<f32>(gather_a(0u, a_ok, a_base, m0, M, a_stride, tid), gather_a(1u, a_ok, a_base, m0, M, a_stride, tid),
                    gather_a(2u, a_ok, a_base, m0, M, a_stride, tid), gather_a(3u, a_ok, a_base, m0, M, a_stride, tid));
  let a2 = vec4<f32>(gather_a(4u, a_ok, a_base, m0, M, a_stride, tid), gather_a(5u, a_ok, a_base, m0, M, a_stride, tid),
                     gather_a(6u, a_ok, a_base, m0, M, a_stride, tid), gather_a(7u, a_ok, a_base, m0, M, a_stride, tid));
  let b = vec4<f32>(gather_b(0u, t0, t_end, tid, b_ok, column), gather_b(1u, t0, t_end, tid, b_ok, column),
                    gather_b(2u, t0, t_end, tid, b_ok, column), gather_b(3u, t0, t_end, tid, b_ok, column));
  let b2 = vec4<f32>(gather_b(4u, t0, t_end, tid, b_ok, column), gather_b(5u, t0, t_end, tid, b_ok, column),
                     gather_b(6u, t0, t_end, tid, b_ok, column), gather_b(7u, t0, t_end, tid, b_ok, column));
  return Staged(a, a2, b, b2);
}

// Write one staged element e (0..3 of a half) into workgroup memory.
fn stage(e: u32, av: f32, bv: f32, a_t: u32, tid: u32) {
  let am = tid / SLAB + 16u * e;
  As[a_t * A_ROW + am / 4u][am % 4u] = av;
  let bt = tid / TILE + 2u * e;
  let bn = tid % TILE;
  Bs[bt * B_ROW + bn / 4u][bn % 4u] = bv;
}

// out[m, col] (+ bias, + residual, ReLU when not split) into slice z.
fn store(m: u32, col: u32, v: f32, M: u32, NC: u32, z: u32, whole: bool) {
  if (m >= M || col >= NC) { return; }
  let at = out_index(m, col);
  var r = v;
  if (PASS == 0u && p.has_bias != 0u && z == 0u) { r += bias[m]; }
  if (whole && p.has_residual != 0u) { r += residual[at]; }
  if (whole && p.relu != 0u) { r = max(r, 0.0); }
  out[z * M * NC + at] = r;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = rows();
  let NC = cols();
  let m0 = wg.y * TILE;
  let n0 = wg.x * TILE;
  let t_begin = wg.z * p.span;
  let t_end = min(reduction(), t_begin + p.span);
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * THREADS + tx;                 // 0 .. 255

  let a_t = tid % SLAB;
  let a_stride = a_row_stride();
  let b_col = n0 + tid % TILE;
  let b_ok = b_col < NC;
  let column = decode_column(min(b_col, NC - 1u));

  var staged = gather(t_begin, t_end, m0, M, a_t, a_stride, tid, b_ok, column);

  // acc[2i + h]: row (i < 4 ? 4ty + i : 64 + 4ty + i - 4), columns 4tx.. (h = 0) or 64 + 4tx.. (h = 1).
  var acc: array<vec4<f32>, 16>;
  for (var t0 = t_begin; t0 < t_end; t0 += SLAB) {
    stage(0u, staged.a_lo.x, staged.b_lo.x, a_t, tid);
    stage(1u, staged.a_lo.y, staged.b_lo.y, a_t, tid);
    stage(2u, staged.a_lo.z, staged.b_lo.z, a_t, tid);
    stage(3u, staged.a_lo.w, staged.b_lo.w, a_t, tid);
    stage(4u, staged.a_hi.x, staged.b_hi.x, a_t, tid);
    stage(5u, staged.a_hi.y, staged.b_hi.y, a_t, tid);
    stage(6u, staged.a_hi.z, staged.b_hi.z, a_t, tid);
    stage(7u, staged.a_hi.w, staged.b_hi.w, a_t, tid);
    workgroupBarrier();
    let t_next = t0 + SLAB;
    if (PREFETCH && t_next < t_end) { staged = gather(t_next, t_end, m0, M, a_t, a_stride, tid, b_ok, column); }
    for (var t = 0u; t < SLAB; t++) {
      let a0 = As[t * A_ROW + ty];             // rows 4ty .. 4ty+3
      let a1 = As[t * A_ROW + 16u + ty];       // rows 64+4ty .. 64+4ty+3
      let b0 = Bs[t * B_ROW + tx];             // columns 4tx .. 4tx+3
      let b1 = Bs[t * B_ROW + 16u + tx];       // columns 64+4tx .. 64+4tx+3
      acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
      acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
      acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
      acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
      acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
      acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
      acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
      acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
      acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
      acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
      acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
      acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
      acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
      acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
      acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
      acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
    }
    workgroupBarrier();
    if (!PREFETCH && t_next < t_end) { staged = gather(t_next, t_end, m0, M, a_t, a_stride, tid, b_ok, column); }
  }

  // Every accumulator by a constant index (see Staged).
  let whole = p.span >= reduction();          // not split: the epilogue is applied here, else by sum_splits
  let r0 = m0 + 4u * ty;
  let r1 = m0 + 64u + 4u * ty;
  let c0 = n0 + 4u * tx;
  let c1 = n0 + 64u + 4u * tx;
  store4(r0, c0, acc[0], M, NC, wg.z, whole);
  store4(r0, c1, acc[1], M, NC, wg.z, whole);
  store4(r0 + 1u, c0, acc[2], M, NC, wg.z, whole);
  store4(r0 + 1u, c1, acc[3], M, NC, wg.z, whole);
  store4(r0 + 2u, c0, acc[4], M, NC, wg.z, whole);
  store4(r0 + 2u, c1, acc[5], M, NC, wg.z, whole);
  store4(r0 + 3u, c0, acc[6], M, NC, wg.z, whole);
  store4(r0 + 3u, c1, acc[7], M, NC, wg.z, whole);
  store4(r1, c0, acc[8], M, NC, wg.z, whole);
  store4(r1, c1, acc[9], M, NC, wg.z, whole);
  store4(r1 + 1u, c0, acc[10], M, NC, wg.z, whole);
  store4(r1 + 1u, c1, acc[11], M, NC, wg.z, whole);
  store4(r1 + 2u, c0, acc[12], M, NC, wg.z, whole);
  store4(r1 + 2u, c1, acc[13], M, NC, wg.z, whole);
  store4(r1 + 3u, c0, acc[14], M, NC, wg.z, whole);
  store4(r1 + 3u, c1, acc[15], M, NC, wg.z, whole);
}

fn store4(m: u32, c: u32, v: vec4<f32>, M: u32, NC: u32, z: u32, whole: bool) {
  store(m, c, v.x, M, NC, z, whole);
  store(m, c + 1u, v.y, M, NC, z, whole);
  store(m, c + 2u, v.z, M, NC, z, whole);
  store(m, c + 3u, v.w, M, NC, z, whole);
}
