// max_pool2d_backward_scatter.wgsl — gradient of 2-D max pooling by deterministic scatter in
// phases, NCHW f32. The fast path beside max_pool2d_backward.wgsl (the gather, its oracle).
//
// Legend as in max_pool2d_forward.wgsl. Every output routes its gradient to its saved argmax:
//   dx[n, c, argmax[n, c, oh, ow]] += gy[n, c, oh, ow]
// Two outputs can only hit the same input if their windows overlap, i.e. if they are closer than
// the window's extent Kh = (kH - 1) * dH + 1 rows (or Kw columns). So the outputs are split into
// PH x PW phases, PH = ceil(Kh / sH), PW = ceil(Kw / sW): phase (ph, pw) holds the outputs with
// oh % PH == ph and ow % PW == pw, whose windows are pairwise disjoint. The launcher zeroes dx
// (`zero`, or fill.wgsl when the size is not a multiple of 4) and then runs the phases one dispatch after another (`main`, phase in the params), so
// every addition is race-free and happens in a fixed order: deterministic, without atomics.
// Against the gather (one invocation per input, looping over up to ceil(Kh/sH) x ceil(Kw/sW)
// candidate windows and loading argmax and gy for each) this moves ~4x fewer values.
// Grid (main): x covers the phase's outputs of one plane (a x b of them), y (spilling into z) the
// planes. Grid (zero): one invocation per vec4 of dx.
// Bindings: 0 gy (read), 1 argmax (read, i32), 2 dx (read_write), 3 params.
// Reference: src/kernels/reference/pool.ts (maxPool2dBackwardRef). Launcher: src/kernels/pool.ts.

struct ScatterParams {    // packed by packScatterParams() in src/kernels/pool.ts
  planes: u32,
  H: u32,
  W: u32,
  OH: u32,
  OW: u32,
  ph: u32,                // this phase: rows ph, ph + PH, ...; columns pw, pw + PW, ...
  pw: u32,
  PH: u32,
  PW: u32,
  rows: u32,              // outputs of this phase per plane: rows x cols
  cols: u32,
  inv_cols: f32,          // 1 / cols, for div_u32()
  total: u32,             // N * C * H * W (zero)
  _p0: u32,
  _p1: u32,
  _p2: u32,
}

@group(0) @binding(0) var<storage, read> gy: array<f32>;
@group(0) @binding(1) var<storage, read> argmax: array<i32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx4: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> p: ScatterParams;

override WG: u32 = 64u;

// a / d without an integer division (llvmpipe scalarises those): a float estimate, corrected
// by one step. Exact for a < 2^23 (the launcher checks plane sizes).
fn div_u32(a: u32, d: u32, inv_d: f32) -> u32 {
  // Signed conversions: x86 has vector i32 <-> f32 instructions but none for u32.
  let q = i32(f32(i32(a)) * inv_d);
  let r = i32(a) - q * i32(d);
  return u32(q + select(0, 1, r >= i32(d)) - select(0, 1, r < 0));   // branch-free
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let k = gid.x;
  let plane = wid.y + wid.z * nwg.y;
  if (k >= p.rows * p.cols || plane >= p.planes) { return; }
  let a = div_u32(k, p.cols, p.inv_cols);
  let b = k - a * p.cols;
  let o = plane * p.OH * p.OW + (p.ph + a * p.PH) * p.OW + p.pw + b * p.PW;
  let i = plane * p.H * p.W + u32(argmax[o]);
  dx[i] = dx[i] + gy[o];
}

// dx = 0, one vec4 per invocation (the launcher uses it when total % 4 == 0).
@compute @workgroup_size(WG)
fn zero(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let q = gid.x + gid.y * nwg.x * WG;
  if (q * 4u < p.total) { dx4[q] = vec4<f32>(0.0); }
}
