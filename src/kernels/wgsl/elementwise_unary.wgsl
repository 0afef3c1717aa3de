// elementwise_unary.wgsl — out = op(alpha * x + beta), f32, x read through strides.
//
// alpha and beta make scalar ops free: x * 3 is IDENTITY with alpha = 3, x + 1 has beta = 1,
// x ** 2.5 is POW_SCALAR with exponent in `scalar`. Strided reads make a non-contiguous x work
// without a copy: `main` (rows of whole vec4s) and `main_any_rows` take runs of 4 neighbouring
// elements of a row, RUNS of them per invocation (src/kernels/runs.ts); `main_vec4` moves V vec4s
// of contiguous elements per invocation with no index arithmetic (see elementwise_binary.wgsl).
// Bindings: 0 x (read), 1 out (write), 2 params (RunParams for `main`, Params for `main_vec4`).
// Reference: src/kernels/reference/elementwise.ts. Launcher: src/kernels/elementwise.ts.

struct Params {        // main_vec4's
  numel: u32,
  x_offset: u32,       // a multiple of 4 (vec4-aligned)
  _pad0: u32,
  _pad1: u32,
  alpha: f32,
  beta: f32,
  scalar: f32,
  _pad2: u32,
}

// `main`'s: runs of 4 neighbouring elements of a row (src/kernels/runs.ts), views x and out.
struct RunParams {             // packed by packRuns() in src/kernels/runs.ts, then alpha .. scalar
  runs: u32,                   // invocations: rows * runs_per_row
  L: u32,                      // row length (the innermost dimension after coalescing)
  runs_per_row: u32,           // ceil(L / 4)
  outer_rank: u32,             // dimensions outside the row
  offset: vec4<u32>,           // element offsets of x, out (z, w unused)
  inner: vec4<u32>,            // their strides along the row
  shape: array<vec4<u32>, 2>,  // the outer dimensions, outermost first
  strides: array<vec4<u32>, 7>,  // strides[d]: the strides of x, out over outer dimension d
  alpha: f32,
  beta: f32,
  scalar: f32,
}

// x is read as vec4s (element j is x4[j / 4][j % 4]); out is written as vec4s, or element by
// element by main_any_rows (as in elementwise_binary.wgsl).
@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;      // main_vec4
@group(0) @binding(2) var<uniform> r: RunParams;   // main

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

fn apply(v: f32, scalar: f32) -> f32 {
  switch OP {
    case 0u: { return v; }                       // identity (with alpha/beta: affine)
    case 1u: { return -v; }
    case 2u: { return exp(v); }
    case 3u: { return log(v); }
    case 4u: { return sqrt(v); }
    case 5u: { return max(v, 0.0); }
    case 6u: { return 1.0 / (1.0 + exp(-v)); }
    case 7u: { return tanh(v); }
    case 8u: { return abs(v); }
    case 9u: { return pow_real(v, scalar); }
    case 10u: { return sign(v); }
    case 11u: { return 1.0 / v; }
    case 12u: { return v * v; }
    case 13u: { return select(0.0, 1.0, v > scalar); }  // step: 1 where v > scalar
    default: { return 0.0; }
  }
}

// op applied to each component of v.
fn apply4(v: vec4<f32>, scalar: f32) -> vec4<f32> {
  return vec4<f32>(apply(v.x, scalar), apply(v.y, scalar), apply(v.z, scalar), apply(v.w, scalar));
}

override X_MODE: u32 = 2u;        // 0: x is constant along a row, 1: aligned vec4s, 2: strided
override RUNS: u32 = 1u;          // consecutive runs per invocation (runs_per_row % RUNS == 0: one row)

// The element offsets (x, out) of run i's first element, and in .w its column in the row
// (as in elementwise_binary.wgsl).
fn run_start(i: u32) -> vec4<u32> {
  let row = i / r.runs_per_row;
  let col = (i - row * r.runs_per_row) * 4u;
  var at = r.offset + r.inner * col;
  var rest = row;
  for (var d = i32(r.outer_rank) - 1; d > 0; d--) {
    let size = r.shape[d / 4][d % 4];
    let next = rest / size;
    at += (rest - next * size) * r.strides[d];
    rest = next;
  }
  if (r.outer_rank > 0u) { at += rest * r.strides[0]; }
  return vec4<u32>(at.xy, 0u, col);
}

// The run's values of x, from element `at` on; past the row's end (n < 4) the last one repeats.
fn load_x(at: u32, n: u32) -> vec4<f32> {
  if (X_MODE == 0u) { return vec4<f32>(x4[at / 4u][at % 4u]); }
  if (X_MODE == 1u) { return x4[at / 4u]; }
  let j = vec4<u32>(at) + min(vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(n - 1u)) * r.inner.x;
  return vec4<f32>(x4[j.x / 4u][j.x % 4u], x4[j.y / 4u][j.y % 4u], x4[j.z / 4u][j.z % 4u], x4[j.w / 4u][j.w % 4u]);
}

// An x constant along the row (mode 0, a broadcast) has the same value in all of an
// invocation's runs: row_value loads it once, at the first run (as in elementwise_binary.wgsl).
fn row_value(first: vec4<u32>) -> vec4<f32> {
  if (X_MODE == 0u) { return load_x(first.x, 1u); }
  return vec4<f32>(0.0);
}

// The run at `at` (offsets as run_start gives them) with n elements: op applied to its values.
fn run_values(at: vec4<u32>, n: u32, row: vec4<f32>) -> vec4<f32> {
  var x = row;
  if (X_MODE != 0u) { x = load_x(at.x, n); }
  let u = r.alpha * x + r.beta;
  return apply4(u, r.scalar);
}

// Rows of whole vec4s (L % 4 == 0): each run is one aligned vec4 of out; RUNS consecutive runs
// of one row per invocation (as in elementwise_binary.wgsl).
@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g * RUNS >= r.runs) { return; }
  let first = run_start(g * RUNS);
  let row = row_value(first);
  let step = vec4<u32>(4u * r.inner.xyz, 4u);    // from one run to the next along the row
  for (var k = 0u; k < RUNS; k++) {
    let at = first + k * step;
    out4[at.y / 4u] = run_values(at, 4u, row);
  }
}

// Any row length: the runs' outputs stored one by one (out is contiguous).
@compute @workgroup_size(WG)
fn main_any_rows(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let g = gid.x + gid.y * nwg.x * WG;
  if (g * RUNS >= r.runs) { return; }
  let first = run_start(g * RUNS);
  let row = row_value(first);
  let step = vec4<u32>(4u * r.inner.xyz, 4u);
  for (var k = 0u; k < RUNS; k++) {
    let at = first + k * step;
    let n = min(4u, r.L - at.w);               // elements in this run
    let v = run_values(at, n, row);
    for (var e = 0u; e < n; e++) { out[at.y + e] = v[e]; }
  }
}

override V: u32 = 1u;   // vec4s per invocation in main_vec4: WG apart, so neighbouring lanes
                        // touch neighbouring memory (the launcher sets it)

@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tile = (wid.x + wid.y * nwg.x) * WG * V;
  for (var k = 0u; k < V; k++) {
    let i = tile + k * WG + lid.x;
    if (i * 4u < p.numel) {
      let v = p.alpha * x4[p.x_offset / 4u + i] + p.beta;
      out4[i] = apply4(v, p.scalar);
    }
  }
}
