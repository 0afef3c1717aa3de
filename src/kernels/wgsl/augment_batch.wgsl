// augment_batch.wgsl — turn a batch of 8-bit images into a normalised float batch, applying a
// per-sample crop window and horizontal flip on the way (the standard CIFAR augmentation:
// zero-pad by P, random crop back to the output size, random horizontal flip).
//
//   out[n, c, oy, ox] = (pixel(n, c % C_in, oy + y0[n], fx + x0[n]) / 255 - mean[c]) * inv_std[c]
//   fx = flip[n] ? W_out - 1 - ox : ox        (flip after crop, as torchvision applies them)
//   pixel(...) = 0 outside the H x W image     (the zero padding)
//
// N = batch, C_in/H/W = the stored images, C_out/H_out/W_out = the model's input. C_in = 1 with
// C_out = 3 replicates a gray plane (MNIST into a CIFAR ResNet). A centred placement (x0, y0 =
// (W - W_out) / 2, ...) without flip is the plain evaluation transform; negative offsets pad.
//
// Bindings:
//   0 pixels:     (N, C_in, H, W) bytes, packed 4 per u32 little-endian (byte i = word i/4, bits 8*(i%4))
//   1 placement:  (N) vec4<i32> = (x0, y0, flip, 0), drawn on the host from a seeded generator
//   2 out:        (N, C_out, H_out, W_out) f32
//   3 params
// One invocation per output element. The whole batch is one upload of bytes (4x less than
// floats) and one dispatch.
// Reference: src/kernels/reference/augment.ts (augmentBatchRef). Launcher: src/kernels/augment.ts.

struct AugmentParams {                // packed by augmentBatch(), same field order
  numel: u32,
  in_channels: u32, in_height: u32, in_width: u32,
  out_channels: u32, out_height: u32, out_width: u32,
  _pad0: u32,
  mean: vec4<f32>,                    // per output channel (C_out <= 4), 0..1 scale
  inv_std: vec4<f32>,                 // 1 / std per output channel
}

@group(0) @binding(0) var<storage, read>       pixels: array<u32>;
@group(0) @binding(1) var<storage, read>       placement: array<vec4<i32>>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform>             p: AugmentParams;

override WG: u32 = 256u;

fn read_byte(i: u32) -> f32 {
  return f32((pixels[i / 4u] >> (8u * (i % 4u))) & 0xffu);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = gid.x + gid.y * nwg.x * WG;
  if (idx >= p.numel) { return; }
  let ox = idx % p.out_width;
  let oy = (idx / p.out_width) % p.out_height;
  let c = (idx / (p.out_width * p.out_height)) % p.out_channels;
  let n = idx / (p.out_width * p.out_height * p.out_channels);

  let place = placement[n];
  var fx = ox;
  if (place.z != 0) { fx = p.out_width - 1u - ox; }
  let sx = i32(fx) + place.x;
  let sy = i32(oy) + place.y;

  var v = 0.0;                        // zero padding outside the image
  if (sx >= 0 && sx < i32(p.in_width) && sy >= 0 && sy < i32(p.in_height)) {
    let ci = c % p.in_channels;
    let plane = p.in_height * p.in_width;
    let byte_index = (n * p.in_channels + ci) * plane + u32(sy) * p.in_width + u32(sx);
    v = read_byte(byte_index) / 255.0;
  }
  out[idx] = (v - p.mean[c]) * p.inv_std[c];
}
