// elementwise_unary.wgsl — out = op(alpha * x + beta), f32, x read through strides.
//
// alpha and beta make scalar ops free: x * 3 is IDENTITY with alpha = 3, x + 1 has beta = 1,
// x ** 2.5 is POW_SCALAR with exponent in `scalar`. Strided reads make a non-contiguous x work
// without a copy. One invocation per output element; `main_vec4` moves V vec4s of contiguous
// elements per invocation with no index arithmetic (see elementwise_binary.wgsl).
// Bindings: 0 x (read), 1 out (write), 2 params.
// Reference: src/kernels/reference/elementwise.ts. Launcher: src/kernels/elementwise.ts.

struct Params {
  numel: u32,
  rank: u32,
  x_offset: u32,
  _pad0: u32,
  alpha: f32,
  beta: f32,
  scalar: f32,
  _pad1: u32,
  shape: array<vec4<u32>, 2>,
  x_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

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

fn apply(v: f32) -> f32 {
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
    case 9u: { return pow_real(v, p.scalar); }
    case 10u: { return sign(v); }
    case 11u: { return 1.0 / v; }
    case 12u: { return v * v; }
    case 13u: { return select(0.0, 1.0, v > p.scalar); }  // step: 1 where v > scalar
    default: { return 0.0; }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.numel) { return; }
  var rest = idx;
  var xi = p.x_offset;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let size = p.shape[d / 4][d % 4];
    xi += (rest % size) * p.x_strides[d / 4][d % 4];
    rest = rest / size;
  }
  out[idx] = apply(p.alpha * x[xi] + p.beta);
}

@group(0) @binding(0) var<storage, read> x4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> out4: array<vec4<f32>>;

override V: u32 = 1u;   // vec4s per invocation in main_vec4: WG apart, so neighbouring lanes
                        // touch neighbouring memory (the launcher sets it)

@compute @workgroup_size(WG)
fn main_vec4(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let tile = (wid.x + wid.y * nwg.x) * WG * V;
  for (var k = 0u; k < V; k++) {
    let i = tile + k * WG + lid.x;
    if (i * 4u < p.numel) {
      let v = p.alpha * x4[p.x_offset / 4u + i] + p.beta;
      out4[i] = vec4<f32>(apply(v.x), apply(v.y), apply(v.z), apply(v.w));
    }
  }
}
