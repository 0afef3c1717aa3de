// elementwise_binary.wgsl — out = op(a, b) with NumPy/PyTorch broadcasting, f32.
//
// Layout: `out` is contiguous with shape out_shape (rank <= 8). `a` and `b` are read through
// strides, so broadcasting is free: a broadcast dimension simply has stride 0, and transposed
// or sliced (non-contiguous) inputs need no copy. The launcher first merges adjacent dimensions
// that are contiguous in every operand, so the common same-shape case runs with rank 1.
// Work: one invocation per output element; the grid may spill into y (65535-workgroup limit).
// Fast path `main_vec4`: when a, b and out are contiguous with the same shape, each invocation
// moves one vec4 (4 elements) with no index arithmetic at all. On lavapipe (a CPU) load
// instructions and integer division are the cost, so this path is several times faster.
// Bindings: 0 a (read), 1 b (read), 2 out (write), 3 params.
// Reference: src/kernels/reference/elementwise.ts. Launcher: src/kernels/elementwise.ts.

struct Params {
  numel: u32,
  rank: u32,
  a_offset: u32,
  b_offset: u32,
  shape: array<vec4<u32>, 2>,      // output shape, padded with 1
  a_strides: array<vec4<u32>, 2>,  // element strides of a (0 where broadcast)
  b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

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

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.numel) { return; }
  // Walk the output index from the last dimension to the first, accumulating each input's offset.
  var rest = idx;
  var ai = p.a_offset;
  var bi = p.b_offset;
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let size = p.shape[d / 4][d % 4];
    let coord = rest % size;
    rest = rest / size;
    ai += coord * p.a_strides[d / 4][d % 4];
    bi += coord * p.b_strides[d / 4][d % 4];
  }
  out[idx] = apply(a[ai], b[bi]);
}

// The same buffers seen as vec4 arrays, for main_vec4. WGSL allows two variables on one binding
// as long as no entry point uses both. The launcher guarantees 16-byte aligned offsets; the last
// vec4 may run past numel into the buffer's size-class padding, which is never read back.
@group(0) @binding(0) var<storage, read> a4: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b4: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> out4: array<vec4<f32>>;

@compute @workgroup_size(WG)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i * 4u >= p.numel) { return; }
  let x = a4[p.a_offset / 4u + i];
  let y = b4[p.b_offset / 4u + i];
  out4[i] = vec4<f32>(apply(x.x, y.x), apply(x.y, y.y), apply(x.z, y.z), apply(x.w, y.w));
}
