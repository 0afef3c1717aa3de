// elementwise_binary.wgsl — out = op(a, b) with NumPy/PyTorch broadcasting, f32.
//
// Layout: `out` is contiguous with shape out_shape (rank <= 8). `a` and `b` are read through
// strides, so broadcasting is free: a broadcast dimension simply has stride 0, and transposed
// or sliced (non-contiguous) inputs need no copy. The launcher first merges adjacent dimensions
// that are contiguous in every operand, so the common same-shape case runs with rank 1.
// Work: `main` (rows of whole vec4s) and `main_any_rows` take runs of 4 neighbouring elements of
// a row, RUNS consecutive runs per invocation (src/kernels/runs.ts: the divisions that find an
// element's place are paid once per run, or per RUNS runs); `main_flat` walks out as flat vec4s
// where rows are not whole vec4s but each operand is constant along a row or laid out like out
// (a broadcast over 7x7 planes); `main_vec4`, when a, b and out are contiguous with the same
// shape, moves one vec4 per invocation with no index arithmetic at all. On lavapipe (a CPU) load
// instructions and integer division are the cost, so that path is the fastest. The grid may
// spill into y (65535-workgroup limit).
// Bindings: 0 a (read), 1 b (read), 2 out (write), 3 params (RunParams for `main`, Params for
// `main_vec4`).
// Reference: src/kernels/reference/elementwise.ts. Launcher: src/kernels/elementwise.ts.

struct Params {        // main_vec4's
  numel: u32,
  a_offset: u32,       // multiples of 4 (vec4-aligned)
  b_offset: u32,
  _pad: u32,
}

// a and b are read as vec4s (element j is a4[j / 4][j % 4]); out is written as vec4s, or
// element by element by main_any_rows (WGSL allows two variables on one binding as long as no
// entry point uses both). Buffers are whole vec4s (src/tensor/buffer-pool.ts rounds them to 16
// bytes); where numel % 4 != 0 the last vec4 of main_vec4 runs into that padding, never read back.
@group(0) @binding(0) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;   // main_vec4's parameters

// Which operation this pipeline computes; one pipeline per value (see BinaryOp in the launcher).
override OP: u32 = 0u;
override WG: u32 = 256u;

// pow as PyTorch defines it: WGSL's pow(x, y) is undefined for x < 0, but a negative base with
// an integer exponent has a real answer ((-2)^3 = -8), and x^0 = 1 for every x.
fn pow_real(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (x >= 0.0 || fract(y) != 0.0) { return pow(x, y); }
  let r = pow(-x, y);
  return select(r, -r, (i32(y) & 1) == 1);
}

fn apply(x: f32, y: f32) -> f32 {
  switch OP {
    case 0u: { return x + y; }
    case 1u: { return x - y; }
    case 2u: { return x * y; }
    case 3u: { return x / y; }
    case 4u: { return pow_real(x, y); }
    case 5u: { return max(x, y); }
    case 6u: { return min(x, y); }
    case 7u: { return select(0.0, 1.0, x > y); }
    case 8u: { return select(0.0, 1.0, x < y); }
    case 9u: { return select(0.0, 1.0, x >= y); }
    case 10u: { return select(0.0, 1.0, x <= y); }
    case 11u: { return select(0.0, 1.0, x == y); }
    case 12u: { return select(0.0, 1.0, x != y); }
    // Fused backward helpers: x is the upstream gradient, y the op's saved output.
    case 13u: { return select(0.0, x, y > 0.0); }   // relu'
    case 14u: { return x * y * (1.0 - y); }         // sigmoid'
    case 15u: { return x * (1.0 - y * y); }         // tanh'
    // Fused residual add + ReLU (ResNet blocks): relu(x + y) in one pass.
    case 16u: { return max(x + y, 0.0); }
    default: { return 0.0; }
  }
}

// op applied to 4 pairs of values, component by component.
fn apply4(x: vec4<f32>, y: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(apply(x.x, y.x), apply(x.y, y.y), apply(x.z, y.z), apply(x.w, y.w));
}

// The general path: any views (broadcast, transposed, sliced), as runs of 4 neighbouring
// elements of a row (src/kernels/runs.ts says why and how the launcher picks each mode).
struct RunParams {             // packed by packRuns() in src/kernels/runs.ts
  runs: u32,                   // invocations: rows * runs_per_row
  L: u32,                      // row length (the innermost dimension after coalescing)
  runs_per_row: u32,           // ceil(L / 4)
  outer_rank: u32,             // dimensions outside the row
  offset: vec4<u32>,           // element offsets of a, b, out (w unused)
  inner: vec4<u32>,            // their strides along the row
  shape: array<vec4<u32>, 2>,  // the outer dimensions, outermost first
  strides: array<vec4<u32>, 7>,  // strides[d]: the strides of a, b, out over outer dimension d
}

@group(0) @binding(3) var<uniform> r: RunParams;

override A_MODE: u32 = 2u;     // 0: a is constant along a row, 1: aligned vec4s, 2: strided
                               // (main_flat: 0, or 1 for flat vec4s laid out like out)
override B_MODE: u32 = 2u;
override RUNS: u32 = 1u;       // consecutive runs per invocation (runs_per_row % RUNS == 0: one row)

// The element offsets (a, b, out) of the first element of row `row`.
fn row_start(row: u32) -> vec4<u32> {
  var at = r.offset;
  // The row's coordinates over the outer dimensions, innermost first; the outermost one is
  // what is left, so it needs no division.
  var rest = row;
  for (var d = i32(r.outer_rank) - 1; d > 0; d--) {
    let size = r.shape[d / 4][d % 4];
    let next = rest / size;
    at += (rest - next * size) * r.strides[d];
    rest = next;
  }
  if (r.outer_rank > 0u) { at += rest * r.strides[0]; }
  return at;
}

// The element offsets (a, b, out) of run i's first element, and in .w its column in the row.
fn run_start(i: u32) -> vec4<u32> {
  let row = i / r.runs_per_row;
  let col = (i - row * r.runs_per_row) * 4u;
  let at = row_start(row) + r.inner * col;
  return vec4<u32>(at.xyz, col);
}

// The element indices of a strided run of n elements from `at`: past the row's end (n < 4) the
// last one repeats.
fn run_elements(at: u32, n: u32, stride: u32) -> vec4<u32> {
  return vec4<u32>(at) + min(vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(n - 1u)) * stride;
}

// The run's values of a, from element `at` on. Read through the vec4 view a4 in every mode (an
// entry point may use only one view of a binding, and the vec4 one serves the aligned rows):
// element j is a4[j / 4][j % 4].
fn load_a(at: u32, n: u32) -> vec4<f32> {
  if (A_MODE == 0u) { return vec4<f32>(a4[at / 4u][at % 4u]); }
  if (A_MODE == 1u) { return a4[at / 4u]; }
  let j = run_elements(at, n, r.inner.x);
  return vec4<f32>(a4[j.x / 4u][j.x % 4u], a4[j.y / 4u][j.y % 4u], a4[j.z / 4u][j.z % 4u], a4[j.w / 4u][j.w % 4u]);
}

fn load_b(at: u32, n: u32) -> vec4<f32> {
  if (B_MODE == 0u) { return vec4<f32>(b4[at / 4u][at % 4u]); }
  if (B_MODE == 1u) { return b4[at / 4u]; }
  let j = run_elements(at, n, r.inner.y);
  return vec4<f32>(b4[j.x / 4u][j.x % 4u], b4[j.y / 4u][j.y % 4u], b4[j.z / 4u][j.z % 4u], b4[j.w / 4u][j.w % 4u]);
}

// An operand constant along the row (mode 0) has the same value in all of an invocation's runs:
// row_values loads it once, at the first run; run_values loads the others per run.
struct RowValues {
  a: vec4<f32>,
  b: vec4<f32>,
}

fn row_values(first: vec4<u32>) -> RowValues {
  var v = RowValues(vec4<f32>(0.0), vec4<f32>(0.0));
  if (A_MODE == 0u) { v.a = load_a(first.x, 1u); }
  if (B_MODE == 0u) { v.b = load_b(first.y, 1u); }
  return v;
}

// The run at `at` (offsets as run_start gives them) with n elements: op applied to its values.
fn run_values(at: vec4<u32>, n: u32, row: RowValues) -> vec4<f32> {
  var x = row.a;
  if (A_MODE != 0u) { x = load_a(at.x, n); }
  var y = row.b;
  if (B_MODE != 0u) { y = load_b(at.y, n); }
  return apply4(x, y);
}

// Rows of whole vec4s (L % 4 == 0): each run is one aligned vec4 of out. An invocation takes
// RUNS consecutive runs of one row, so run_start's divisions are paid once for all of them.
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g * RUNS >= r.runs) { return; }
  let first = run_start(g * RUNS);
  let row = row_values(first);
  let step = vec4<u32>(4u * r.inner.xyz, 4u);    // from one run to the next along the row
  for (var k = 0u; k < RUNS; k++) {
    let at = first + k * step;
    out4[at.z / 4u] = run_values(at, 4u, row);
  }
}

// Any row length: the runs' outputs stored one by one (out is contiguous).
@compute @workgroup_size(WG)
fn main_any_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g * RUNS >= r.runs) { return; }
  let first = run_start(g * RUNS);
  let row = row_values(first);
  let step = vec4<u32>(4u * r.inner.xyz, 4u);
  for (var k = 0u; k < RUNS; k++) {
    let at = first + k * step;
    let n = min(4u, r.L - at.w);               // elements in this run
    let v = run_values(at, n, row);
    for (var e = 0u; e < n; e++) { out[at.z + e] = v[e]; }
  }
}

// Rows that are not whole vec4s (L % 4 != 0, L >= 4; on CPU adapters also rows of whole vec4s
// that `main` would walk one run per invocation, as on 14x14 planes), where out can be walked as
// flat vec4s: every operand either constant along a row (mode 0: x + bias[1, C, 1, 1] on 7x7
// planes) or laid out like out from a multiple of 4 (mode 1 here: read as flat vec4s too);
// src/kernels/runs.ts's flatRows picks it. An invocation takes VECS consecutive vec4s of out,
// which span at most two rows (the launcher keeps 4 * VECS <= L), so the divisions that place a
// row are paid once for all of them: a mode-0 operand takes one value for row `row` and one for
// the next, and a component at or past `row_end` belongs to the next. Against main_any_rows's
// strided runs this is one vec4 load per contiguous operand and one vec4 store in place of 4
// loads and 4 stores.
override VECS: u32 = 1u;

// Component k of a mode-0 operand's vec4 at element e: `first` before row_end, else `second`.
fn row_pick(first: f32, second: f32, e: u32, row_end: u32) -> vec4<f32> {
  return select(vec4<f32>(second), vec4<f32>(first), vec4<u32>(e) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(row_end));
}

@compute @workgroup_size(WG)
fn main_flat(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let j = (gid.x + gid.y * nwg.x * WG) * VECS;   // the invocation's first vec4 of out
  let rows = r.runs / r.runs_per_row;
  let row = (4u * j) / r.L;
  if (row >= rows) { return; }
  let row_end = (row + 1u) * r.L;               // the next row's first element
  // The next row's values, or past the last row this row's again (they land in the padding of
  // out's last vec4: buffers are whole vec4s).
  let at0 = row_start(row);
  let at1 = row_start(min(row + 1u, rows - 1u));
  var a_row = vec2<f32>(0.0);
  var b_row = vec2<f32>(0.0);
  if (A_MODE == 0u) { a_row = vec2<f32>(a4[at0.x / 4u][at0.x % 4u], a4[at1.x / 4u][at1.x % 4u]); }
  if (B_MODE == 0u) { b_row = vec2<f32>(b4[at0.y / 4u][at0.y % 4u], b4[at1.y / 4u][at1.y % 4u]); }
  for (var k = 0u; k < VECS; k++) {
    let e = 4u * (j + k);
    if (e >= rows * r.L) { return; }
    var x = row_pick(a_row.x, a_row.y, e, row_end);
    if (A_MODE != 0u) { x = a4[r.offset.x / 4u + j + k]; }
    var y = row_pick(b_row.x, b_row.y, e, row_end);
    if (B_MODE != 0u) { y = b4[r.offset.y / 4u + j + k]; }
    out4[j + k] = apply4(x, y);
  }
}

// Same-shape contiguous operands at vec4-aligned offsets: one vec4 per invocation.
@compute @workgroup_size(WG)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i * 4u >= p.numel) { return; }
  let x = a4[p.a_offset / 4u + i];
  let y = b4[p.b_offset / 4u + i];
  out4[i] = apply4(x, y);
}
