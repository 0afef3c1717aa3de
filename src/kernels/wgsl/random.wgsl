// random.wgsl — counter-based random numbers (Philox-4x32-10), f32.
//
// Philox maps (counter, key) to four independent 32-bit words with ten rounds of multiply and
// xor (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11). Because it is a
// pure function of (seed, index), every invocation works alone, the result does not depend on
// the dispatch size, and the host can reproduce any element (src/kernels/reference/philox.ts).
// Invocation i fills elements 4i..4i+3 from counter (i, offset, 0, 0) and key = seed.
// DIST 0: uniform [low, high). DIST 1: normal(mean = a, std = b) by Box-Muller on word pairs.
// DIST 2: Bernoulli keep-mask for dropout: scale where u >= a (a = p), else 0; b = scale.
// Bindings: 0 out (write, as vec4s), 1 params. Launcher: src/kernels/random.ts.

struct Params {
  numel: u32,
  seed_lo: u32,
  seed_hi: u32,
  offset: u32,     // stream offset: advances per call so successive calls differ
  a: f32,
  b: f32,
  _p0: u32,
  _p1: u32,
}

@group(0) @binding(0) var<storage, read_write> out4: array<vec4<f32>>;
@group(0) @binding(1) var<uniform> p: Params;

override DIST: u32 = 0u;
override WG: u32 = 64u;

const M0: u32 = 0xD2511F53u;
const M1: u32 = 0xCD9E8D57u;
const W0: u32 = 0x9E3779B9u;
const W1: u32 = 0xBB67AE85u;

// 32x32 -> 64-bit product as (hi, lo), from 16-bit halves (WGSL has no 64-bit integers).
fn mulhilo(a: u32, b: u32) -> vec2<u32> {
  let a_lo = a & 0xFFFFu; let a_hi = a >> 16u;
  let b_lo = b & 0xFFFFu; let b_hi = b >> 16u;
  let lo_lo = a_lo * b_lo;
  let hi_lo = a_hi * b_lo;
  let lo_hi = a_lo * b_hi;
  let hi_hi = a_hi * b_hi;
  let cross = (lo_lo >> 16u) + (hi_lo & 0xFFFFu) + (lo_hi & 0xFFFFu);
  let hi = hi_hi + (hi_lo >> 16u) + (lo_hi >> 16u) + (cross >> 16u);
  return vec2<u32>(hi, a * b);   // the low word is the wrapping 32-bit product
}

fn philox(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var round = 0u; round < 10u; round++) {
    let p0 = mulhilo(M0, c.x);
    let p1 = mulhilo(M1, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2<u32>(W0, W1);
  }
  return c;
}

// 24 random bits -> float in [0, 1), exactly representable.
fn unit(bits: u32) -> f32 {
  return f32(bits >> 8u) * (1.0 / 16777216.0);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i * 4u >= p.numel) { return; }
  let r = philox(vec4<u32>(i, p.offset, 0u, 0u), vec2<u32>(p.seed_lo, p.seed_hi));
  var v: vec4<f32>;
  if (DIST == 1u) {
    // Box-Muller: two uniforms (u1 in (0,1]) give two independent standard normals.
    let u1 = 1.0 - unit(r.x);
    let u2 = unit(r.y);
    let u3 = 1.0 - unit(r.z);
    let u4 = unit(r.w);
    let r1 = sqrt(-2.0 * log(u1));
    let r2 = sqrt(-2.0 * log(u3));
    let tau = 6.2831853071795864;
    v = vec4<f32>(r1 * cos(tau * u2), r1 * sin(tau * u2), r2 * cos(tau * u4), r2 * sin(tau * u4));
    v = p.a + p.b * v;
  } else {
    let u = vec4<f32>(unit(r.x), unit(r.y), unit(r.z), unit(r.w));
    if (DIST == 2u) {
      v = select(vec4<f32>(0.0), vec4<f32>(p.b), u >= vec4<f32>(p.a));
    } else {
      v = p.a + (p.b - p.a) * u;
    }
  }
  // One vec4 store (buffers are whole vec4s: past numel it writes padding, never read back); four
  // scalar stores, each a walk over the lanes on lavapipe, made randn 1.2x slower.
  out4[i] = v;
}
