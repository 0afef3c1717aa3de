// shortcut_a_backward.wgsl — gradient of the option-A shortcut (shortcut_a_forward.wgsl):
//   gy: (N, C + 2 * PAD, P, Q)   dx: (N, C, H, W)
//   dx[n, c, h, w] = gy[n, c + PAD, h / 2, w / 2] when h and w are even, else 0
// (the pixels the subsampling skipped, and the padded channels, get no gradient).
// One invocation writes one element of dx; every element is written, so dx needs no zero-fill.
// Launcher: src/kernels/shortcut.ts. `main_vec4` (below) writes vec4s where the rows allow.

struct ShortcutParams {          // packed by shortcutParams() in src/kernels/shortcut.ts
  N: u32,
}

@group(0) @binding(0) var<storage, read>       gy: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx: array<f32>;
@group(0) @binding(1) var<storage, read_write> dx4: array<vec4<f32>>;   // dx again, as vec4s (main_vec4)
@group(0) @binding(2) var<uniform>             p: ShortcutParams;

override WG: u32 = 256u;
// The layer's geometry as pipeline constants (one pipeline per shape; a ResNet has two): the
// index arithmetic below divides by them, and a division by a constant compiles to a multiply
// and shift, where a division by a runtime value is scalarised lane by lane on a CPU adapter
// (~4x slower for this kernel on lavapipe).
override C: u32 = 1u;
override H: u32 = 1u;
override W: u32 = 1u;
override PAD: u32 = 0u;
override K = C + 2u * PAD;        // output channels
override P = (H + 1u) / 2u;       // output rows, ceil(H / 2)
override Q = (W + 1u) / 2u;       // output columns

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.N * C * H * W) { return; }
  let w = i % W;
  let h = (i / W) % H;
  let c = (i / (H * W)) % C;
  let n = i / (C * H * W);
  let hit = h % 2u == 0u && w % 2u == 0u;
  let src = ((n * K + c + PAD) * P + h / 2u) * Q + w / 2u;
  dx[i] = select(0.0, gy[select(0u, src, hit)], hit);
}

// `main_vec4`, when W % 4 == 0: one invocation writes 4 neighbouring columns w .. w+3 of an even
// row 2h and of the odd row below it: (gy[2h/2, w/2], 0, gy[.., w/2 + 1], 0) and zeros, two
// gy loads and two vec4 stores for 8 values of dx (one load and one store per value above).
// Every lane does the same work, so no lane waits on another's branch.
@compute @workgroup_size(WG)
fn main_vec4(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;   // (n, c, row pair h, vec4 column w4)
  let W4 = W / 4u;
  if (i >= p.N * C * P * W4) { return; }
  let w4 = i % W4;
  let h = (i / W4) % P;
  let c = (i / (P * W4)) % C;
  let n = i / (C * P * W4);
  let src = ((n * K + c + PAD) * P + h) * Q + 2u * w4;
  let even_row = (((n * C + c) * H + 2u * h) * W) / 4u + w4;
  dx4[even_row] = vec4<f32>(gy[src], 0.0, gy[src + 1u], 0.0);
  if (2u * h + 1u < H) { dx4[even_row + W4] = vec4<f32>(0.0); }
}
