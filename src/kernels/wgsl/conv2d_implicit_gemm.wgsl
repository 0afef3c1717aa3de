// conv2d_implicit_gemm.wgsl — all three convolution passes as one workgroup-tiled GEMM (for GPUs).
//
// A convolution is a matrix product whose operands are gathered from the tensors as they are
// read: the "implicit GEMM". The im2col matrix x̂[(c,r,s), (n,p,q)] = x[n, c, p·sh - ph + r·dh,
// q·sw - pw + s·dw] (zero in the padding) is never stored; its elements are fetched when a slab
// of it is staged. Each pass is out[m, col] = Σ_t A[m, t] · B[t, col] with:
//
//   pass (PASS)    out      rows m   columns col   reduction t   A[m, t]               B[t, col]
//   forward  (0)   y        K        N·P·Q         C·R·S         w[m, t]               x̂[t, col]
//   input    (1)   dx       C        N·H·W         K·R·S         w[k, m, r, s]         gy[n, k, p, q] where
//                                                                                       h = p·sh - ph + r·dh
//   weight   (2)   dw       K        C·R·S         N·P·Q         gy[n, m, p, q]        x̂[col, t]
//
// (For the input gradient, pixel (h, w) receives from tap (r, s) the output pixel p with
// p·sh = h + ph - r·dh when that divides evenly and lands inside the output; otherwise zero.)
//
// Tiling, as in matmul_tiled.wgsl: 16 x 16 invocations compute a 64 x 64 tile of out. For each
// slab of 16 reduction steps they stage A[64 rows, 16] and B[16, 64 columns] in workgroup
// memory (each invocation gathers 4 + 4 elements), wait at a barrier, and every invocation
// accumulates its 4 x 4 outputs (4 adjacent rows x 4 adjacent columns: two vec4 reads of
// workgroup memory per 16 multiply-adds) from the staged slab: each gathered element is used
// 64 times.
// An invocation's B column is the same in every slab, so its image and pixel (or channel and
// tap) are decoded once, before the loop; R and S are pipeline constants so that the divisions
// by them compile to multiplications.
//
// Split reduction: a weight gradient has few tiles (64 x 576 for a 64-channel 3x3 layer) but
// a long reduction (N·P·Q = 100,352 at batch 32, 56x56), so one tile per workgroup would leave
// most of a GPU idle. Workgroup z then takes one stretch of t (`span` steps) and writes its
// partial tile to slice z of `out`; the entry point sum_splits (at the end) adds the slices.
// The bias (forward only) is added by slice 0. The epilogue (residual add, and the forward's
// ReLU) is applied as the output is stored: by this kernel, or after a split by sum_splits (at
// the end); an input gradient's residual is the gradient already at the layer's input.
// On llvmpipe this is much slower than the subgroup kernels (workgroup memory and barriers buy
// nothing on a CPU), so it runs there only in tests, which hold it to the float64 reference.
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

const TILE = 64u;    // rows and columns of out per workgroup
const SLAB = 16u;    // reduction steps per staging step
const THREADS = 16u; // invocations per side of the workgroup

// The staged slab, as vec4s: an invocation's 4 rows (and 4 columns) are adjacent, so the inner
// loop reads them with one vec4 load each. A's rows are padded by one vec4 (17 per step): the
// 16 invocations that store one A row at 16 steps then hit different memory banks instead of
// one bank 16 times (a stride of 64 floats maps every address to the same bank).
const A_ROW = TILE / 4u + 1u;
var<workgroup> As: array<vec4<f32>, 272>;   // [SLAB][A_ROW]: rows 4i..4i+3 of step t at As[t * A_ROW + i]
var<workgroup> Bs: array<vec4<f32>, 256>;   // [SLAB][TILE / 4]: columns 4j..4j+3 at Bs[t * 16 + j]

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

// Gather an invocation's share of the slab that starts at t0: A rows tid / 16 + 16e at step
// t0 + a_t, and B's column at steps t0 + tid / 64 + 4e (e = 0..3); zeros outside the problem.
fn gather(ra: ptr<function, array<f32, 4>>, rb: ptr<function, array<f32, 4>>, t0: u32, t_end: u32,
          m0: u32, M: u32, a_t: u32, a_stride: u32, tid: u32, b_ok: bool, column: Column) {
  let a_ok = t0 + a_t < t_end;
  let a_base = a_offset(t0 + a_t);
  for (var e = 0u; e < 4u; e++) {
    let am = tid / SLAB + 16u * e;
    var av = 0.0;
    if (a_ok && m0 + am < M) { av = a_src[a_base + (m0 + am) * a_stride]; }
    (*ra)[e] = av;
    let bt = tid / TILE + 4u * e;
    var bv = 0.0;
    if (b_ok && t0 + bt < t_end) { bv = load_b(column, t0 + bt); }
    (*rb)[e] = bv;
  }
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

  // This invocation stages A rows tid / 16 + 16e at reduction step tid % 16, and B column tid % 64
  // at steps tid / 64 + 4e (e = 0..3): the column is decoded here, once.
  let a_t = tid % SLAB;
  let a_stride = a_row_stride();
  let b_col = n0 + tid % TILE;
  let b_ok = b_col < NC;
  let column = decode_column(min(b_col, NC - 1u));

  // This invocation's 4 + 4 elements of the first slab, in registers.
  var ra: array<f32, 4>;
  var rb: array<f32, 4>;
  gather(&ra, &rb, t_begin, t_end, m0, M, a_t, a_stride, tid, b_ok, column);

  var acc: array<vec4<f32>, 4>;                // acc[i][j] = out[m0 + 4ty + i, n0 + 4tx + j]
  for (var t0 = t_begin; t0 < t_end; t0 += SLAB) {
    for (var e = 0u; e < 4u; e++) {
      let am = tid / SLAB + 16u * e;
      As[a_t * A_ROW + am / 4u][am % 4u] = ra[e];
      let bt = tid / TILE + 4u * e;
      let bn = tid % TILE;
      Bs[bt * 16u + bn / 4u][bn % 4u] = rb[e];
    }
    workgroupBarrier();
    // With PREFETCH the next slab's gathers are issued before the multiply-adds of this one, so
    // their memory latency overlaps arithmetic instead of stalling at the top of the next step.
    let t_next = t0 + SLAB;
    if (PREFETCH && t_next < t_end) { gather(&ra, &rb, t_next, t_end, m0, M, a_t, a_stride, tid, b_ok, column); }
    for (var t = 0u; t < SLAB; t++) {
      let a = As[t * A_ROW + ty];              // rows 4ty .. 4ty+3
      let b = Bs[t * 16u + tx];                // columns 4tx .. 4tx+3
      acc[0] = fma(vec4<f32>(a.x), b, acc[0]);
      acc[1] = fma(vec4<f32>(a.y), b, acc[1]);
      acc[2] = fma(vec4<f32>(a.z), b, acc[2]);
      acc[3] = fma(vec4<f32>(a.w), b, acc[3]);
    }
    workgroupBarrier();
    if (!PREFETCH && t_next < t_end) { gather(&ra, &rb, t_next, t_end, m0, M, a_t, a_stride, tid, b_ok, column); }
  }

  // Store into slice z (each slice is a whole output tensor); in the forward pass the first
  // slice adds the bias of its output channel.
  let slice_offset = wg.z * M * NC;
  let whole = p.span >= reduction();          // not split: the epilogue is applied here, else by sum_splits
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + 4u * ty + i;
    if (m >= M) { continue; }
    var add = 0.0;
    if (PASS == 0u && p.has_bias != 0u && wg.z == 0u) { add = bias[m]; }
    for (var j = 0u; j < 4u; j++) {
      let col = n0 + 4u * tx + j;
      if (col >= NC) { continue; }
      let at = out_index(m, col);
      var v = acc[i][j] + add;
      if (whole && p.has_residual != 0u) { v += residual[at]; }
      if (whole && p.relu != 0u) { v = max(v, 0.0); }
      out[slice_offset + at] = v;
    }
  }
}

// The second half of a split reduction: out[i] = epilogue(Σ_z partial[z][i]) in one pass, for the
// M·NC values of the output (binding 0 holds the partials, binding 2 the output; the bias was
// added by slice 0). One invocation per value; the grid may spill into y (65535-workgroup limit).
@compute @workgroup_size(256)
fn sum_splits(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let total = rows() * cols();
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= total) { return; }
  let splits = (reduction() + p.span - 1u) / p.span;
  var v = 0.0;
  for (var z = 0u; z < splits; z++) { v += a_src[z * total + i]; }
  if (p.has_residual != 0u) { v += residual[i]; }
  if (p.relu != 0u) { v = max(v, 0.0); }
  out[i] = v;
}
