// sgd_update.wgsl — one fused, in-place SGD step (torch.optim.SGD semantics) for one parameter.
//
// Per element, with p the parameter, g its gradient and buf the momentum buffer:
//   g   = maximize ? -g : g
//   g   = g + weight_decay * p                       (L2 decay, coupled into the gradient)
//   if use_momentum:
//     buf = first_step ? g : momentum * buf + (1 - dampening) * g   (torch: no dampening at first)
//     g   = nesterov ? g + momentum * buf : buf
//   p   = p - lr * g
// All of it happens in registers: each element of p, g and buf is loaded once and p and buf
// stored once, where a chain of elementwise ops would make 5-7 passes over memory.
//
// Scheduling: one dispatch per parameter tensor here. Parameters, gradients and optimizer state
// are separate GPU buffers (autograd allocates each gradient), so a single dispatch over all
// parameters of a group would need either a binding per tensor or copying every tensor into a
// flat arena and back, which costs more memory traffic than the update itself. Where the adapter
// allows 12 storage bindings per stage, sgd_update_multi.wgsl updates 4 tensors per dispatch;
// this kernel is the fallback (and the one the multi kernel must match bit for bit).
//
// Hyperparameters arrive in the uniform struct, so changing lr (a scheduler) or momentum never
// rebuilds a pipeline; only the workgroup shape is an `override`.
//
// Layout: every buffer is viewed as vec4<f32>. n: elements of the parameter; the launcher
// guarantees that param_offset and grad_offset (in vec4 units) come from element offsets that are
// multiples of 4. Buffers are allocated in 256-byte size classes, so the last, partial vec4 is
// inside every binding; its lanes past n are computed but never stored into the parameter.
// Work: each invocation updates VEC vec4s, strided by WG inside its workgroup's tile of WG*VEC
// vec4s (neighbouring lanes touch neighbouring memory); the grid may spill into y.
// Bindings: 0 param (read_write, n), 1 grad (read, n), 2 buf (read_write, n; a 16-byte dummy when
// use_momentum == 0), 3 params.
// Reference: src/kernels/reference/optim.ts (sgdStepRef). Launcher: src/kernels/optim.ts (sgdUpdate).

struct SgdParams {       // packed by sgdUpdate(), same field order
  n: u32,
  param_offset: u32,     // vec4 index of element 0 of the parameter
  grad_offset: u32,      // vec4 index of element 0 of the gradient
  use_momentum: u32,     // 1 when momentum != 0 (buf is bound)
  first_step: u32,       // 1 on the first momentum step: buf = g
  nesterov: u32,
  maximize: u32,
  _pad: u32,
  lr: f32,
  momentum: f32,
  dampening: f32,
  weight_decay: f32,
}

@group(0) @binding(0) var<storage, read_write> param: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read>       grad: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> buf: array<vec4<f32>>;
@group(0) @binding(3) var<uniform>             p: SgdParams;

override WG: u32 = 256u;
override VEC: u32 = 1u;    // vec4s per invocation (the launcher sets it)

// Store only the lanes below n: the tail of the parameter's buffer is not ours to write.
fn store_param(i: u32, v: vec4<f32>, lanes: u32) {
  if (lanes >= 4u) {
    param[p.param_offset + i] = v;
    return;
  }
  for (var j = 0u; j < lanes; j++) {
    param[p.param_offset + i][j] = v[j];
  }
}

fn update(i: u32) {
  var g = grad[p.grad_offset + i];
  let w = param[p.param_offset + i];
  if (p.maximize != 0u) { g = -g; }
  g = g + p.weight_decay * w;
  if (p.use_momentum != 0u) {
    var b = g;
    if (p.first_step == 0u) { b = p.momentum * buf[i] + (1.0 - p.dampening) * g; }
    buf[i] = b;
    if (p.nesterov != 0u) { g = g + p.momentum * b; } else { g = b; }
  }
  store_param(i, w - p.lr * g, p.n - 4u * i);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let tile = (wid.x + wid.y * nwg.x) * WG * VEC;
  let vec_count = (p.n + 3u) / 4u;
  for (var k = 0u; k < VEC; k++) {
    let i = tile + k * WG + lid.x;
    if (i < vec_count) { update(i); }
  }
}
