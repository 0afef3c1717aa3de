// SPDX-License-Identifier: MIT
// TensorFlow.js's side of the peer comparison: @tensorflow/tfjs-core + @tensorflow/tfjs-backend-webgpu
// in Node, on the adapter Dawn's `webgpu` package gives (the same one wgslgrad uses).
// Prints one JSON line: { engine, adapter, versions, flags, results: {key: {ms, firstMs, times}} }.
//   node tfjs.mjs [--quick]
//
// Setup: navigator.gpu = create([]) and the GPU* globals from `webgpu`; nothing else was needed
// with 4.22 (no flags, no fake canvas format). Default flags are kept and printed. The API comes
// from the union package @tensorflow/tfjs: tfjs-core's Node bundle registers no gradient functions
// (its dist/register_all_gradients.js is ESM with extension-less imports, which Node cannot load),
// while tfjs's bundle registers them in the global registry the webgpu backend's engine shares.
//
// What runs, per workload (NHWC, TF.js's native layout; fp32):
//   gemm1024/2048  tf.matMul(a, b)
//   convFwd        tf.conv2d(x [32,32,32,64], w [3,3,64,64], 1, pad 1)
//   convBwd        the two kernels tf.conv2d's gradient calls, given dy: Conv2DBackpropInput and
//                  Conv2DBackpropFilter (through tf.engine().runKernel)
//   bnTrain        tf.moments(x, [0,1,2]) then tf.batchNorm(x, mean, variance, beta, gamma, 1e-5)
//                  (batch statistics and normalisation; no running-statistics update)
//   resnet18Infer  torchvision's ResNet-18 written in tf ops (resnet18() below), random He-normal
//                  weights, inference BN as tf.batchNorm with stored statistics, batch 1 224x224
//   resnet20Train  CIFAR ResNet-20 (shortcut A: every other pixel (reshape + slice) + zero-padded channels) in tf ops,
//                  BN with batch statistics (tf.moments), tf.losses.softmaxCrossEntropy,
//                  tf.train.momentum(0.01, 0.9).minimize(...) over all variables (no weight decay,
//                  no running-statistics update: slightly less work than wgslgrad's step)
import { create, globals } from 'webgpu';
import { createRequire } from 'node:module';
import { timeSteps } from './timing.mjs';

Object.assign(globalThis, globals);
globalThis.navigator = { gpu: create([]) };
const tf = await import('@tensorflow/tfjs');
await import('@tensorflow/tfjs-backend-webgpu');
if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
await tf.ready();

const require = createRequire(import.meta.url);
const versions = {
  tfjs: require('@tensorflow/tfjs/package.json').version,
  'tfjs-core': require('@tensorflow/tfjs-core/package.json').version,
  'tfjs-backend-webgpu': require('@tensorflow/tfjs-backend-webgpu/package.json').version,
  webgpu: require('webgpu/package.json').version,
};
const quick = process.argv.includes('--quick');
const argOf = (name) => { const i = process.argv.indexOf(name); return i >= 0 ? process.argv[i + 1] : null; };
const only = argOf('--only')?.split(',');
const want = (key) => !only || only.includes(key);
const batch20 = Number(argOf('--batch20') ?? 128);
const reps = (n) => (quick ? Math.min(n, 2) : n);
const release = (outs) => outs.forEach((t) => t.dispose());
const results = {};
const log = (key, r) => {
  results[key] = r;
  console.error(`[tfjs] ${key}: ${r.ms.toFixed(1)} ms`);
};
const he = (shape, fanIn) => tf.randomNormal(shape, 0, Math.sqrt(2 / fanIn), 'float32', 1);

for (const n of [1024, 2048].filter((n) => want(`gemm${n}`))) {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  log(`gemm${n}`, await timeSteps(() => [tf.matMul(a, b)], release, { warmup: 1, reps: reps(n > 1024 ? 3 : 5) }));
  a.dispose();
  b.dispose();
}

if (want('convFwd') || want('convBwd') || want('bnTrain')) {
  const x = tf.randomNormal([32, 32, 32, 64], 0, 1, 'float32', 3);
  const w = tf.randomNormal([3, 3, 64, 64], 0, 0.05, 'float32', 4);
  const dy = tf.randomNormal([32, 32, 32, 64], 0, 1, 'float32', 5);
  const conv = { strides: [1, 1], pad: 1, dataFormat: 'NHWC', dimRoundingMode: undefined };
  if (want('convFwd')) log('convFwd', await timeSteps(() => [tf.conv2d(x, w, 1, 1)], release, { warmup: 1, reps: reps(5) }));
  if (want('convBwd')) log('convBwd', await timeSteps(() => [
    tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { ...conv, inputShape: x.shape }),
    tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...conv, filterShape: w.shape }),
  ], release, { warmup: 1, reps: reps(3) }));
  const gamma = tf.ones([64]);
  const beta = tf.zeros([64]);
  if (want('bnTrain')) log('bnTrain', await timeSteps(() => [tf.tidy(() => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.batchNorm(x, mean, variance, beta, gamma, 1e-5);
  })], release, { warmup: 1, reps: reps(5) }));
  tf.dispose([x, w, dy, gamma, beta]);
}

// ResNet-18 (torchvision layout) for inference: conv weights [R,S,C,K], BN with stored statistics.
function resnet18Weights() {
  const conv = (r, c, k) => he([r, r, c, k], r * r * c);
  const bn = (k) => ({ mean: tf.zeros([k]), variance: tf.ones([k]), gamma: tf.ones([k]), beta: tf.zeros([k]) });
  const p = { conv1: conv(7, 3, 64), bn1: bn(64), blocks: [] };
  let c = 64;
  for (const [k, stride] of [[64, 1], [128, 2], [256, 2], [512, 2]]) {
    for (let i = 0; i < 2; i++) {
      const s = i === 0 ? stride : 1;
      const blk = { stride: s, conv1: conv(3, c, k), bn1: bn(k), conv2: conv(3, k, k), bn2: bn(k) };
      if (s !== 1 || c !== k) Object.assign(blk, { down: conv(1, c, k), downBn: bn(k) });
      p.blocks.push(blk);
      c = k;
    }
  }
  p.fcW = tf.randomUniform([512, 1000], -1 / Math.sqrt(512), 1 / Math.sqrt(512), 'float32', 9);
  p.fcB = tf.zeros([1000]);
  return p;
}
const bnEval = (x, b) => tf.batchNorm(x, b.mean, b.variance, b.beta, b.gamma, 1e-5);
function resnet18Forward(p, x) {
  let h = tf.relu(bnEval(tf.conv2d(x, p.conv1, 2, 3), p.bn1));
  h = tf.maxPool(h, 3, 2, 1);
  for (const b of p.blocks) {
    let y = tf.relu(bnEval(tf.conv2d(h, b.conv1, b.stride, 1), b.bn1));
    y = bnEval(tf.conv2d(y, b.conv2, 1, 1), b.bn2);
    const sc = b.down ? bnEval(tf.conv2d(h, b.down, b.stride, 0), b.downBn) : h;
    h = tf.relu(tf.add(y, sc));
  }
  return tf.add(tf.matMul(tf.mean(h, [1, 2]), p.fcW), p.fcB);
}
if (want('resnet18Infer')) {
  const p = resnet18Weights();
  const x = tf.randomNormal([1, 224, 224, 3], 0, 1, 'float32', 6);
  log('resnet18Infer', await timeSteps(() => [tf.tidy(() => resnet18Forward(p, x))], release, { warmup: 2, reps: reps(5) }));
  x.dispose();
  tf.disposeVariables();
}

// CIFAR ResNet-20 (He et al. 2015, shortcut A) for training: variables, BN with batch statistics.
function resnet20Variables() {
  const conv = (c, k) => tf.variable(he([3, 3, c, k], 9 * c));
  const bn = (k) => ({ gamma: tf.variable(tf.ones([k])), beta: tf.variable(tf.zeros([k])) });
  const p = { conv1: conv(3, 16), bn1: bn(16), blocks: [] };
  let c = 16;
  for (const [k, stride] of [[16, 1], [32, 2], [64, 2]]) {
    for (let i = 0; i < 3; i++) {
      const s = i === 0 ? stride : 1;
      p.blocks.push({ stride: s, pad: s !== 1 || c !== k ? k / 4 : 0, conv1: conv(c, k), bn1: bn(k), conv2: conv(k, k), bn2: bn(k) });
      c = k;
    }
  }
  p.fcW = tf.variable(tf.randomUniform([64, 10], -0.125, 0.125, 'float32', 8));
  p.fcB = tf.variable(tf.zeros([10]));
  return p;
}
const bnTrain = (x, b) => {
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return tf.batchNorm(x, mean, variance, b.beta, b.gamma, 1e-5);
};
function resnet20Forward(p, x) {
  let h = tf.relu(bnTrain(tf.conv2d(x, p.conv1, 1, 1), p.bn1));
  for (const b of p.blocks) {
    let y = tf.relu(bnTrain(tf.conv2d(h, b.conv1, b.stride, 1), b.bn1));
    y = bnTrain(tf.conv2d(y, b.conv2, 1, 1), b.bn2);
    let sc = h;
    if (b.pad) {
      const [n, hh, ww, cc] = h.shape;
      // h[:, ::2, ::2, :] as a rank-4 reshape + slice: TF.js registers no gradient for StridedSlice,
      // and the webgpu backend's Pad (Slice's gradient) fails to compile for rank 6 (vec6).
      sc = tf.slice(tf.reshape(h, [n * hh / 2, 2, ww / 2, 2 * cc]), [0, 0, 0, 0], [n * hh / 2, 1, ww / 2, cc]);
      sc = tf.pad(tf.reshape(sc, [n, hh / 2, ww / 2, cc]), [[0, 0], [0, 0], [0, 0], [b.pad, b.pad]]);
    }
    h = tf.relu(tf.add(y, sc));
  }
  return tf.add(tf.matMul(tf.mean(h, [1, 2]), p.fcW), p.fcB);
}
if (want('resnet20Train')) {
  const p = resnet20Variables();
  const opt = tf.train.momentum(0.01, 0.9);
  const x = tf.randomNormal([batch20, 32, 32, 3], 0, 1, 'float32', 7);
  const onehot = tf.oneHot(tf.tensor1d(Array.from({ length: batch20 }, (_, i) => i % 10), 'int32'), 10);
  const step = () => [opt.minimize(() => tf.losses.softmaxCrossEntropy(onehot, resnet20Forward(p, x)), true)];
  log('resnet20Train', await timeSteps(step, release, { warmup: 2, reps: reps(3) }));
  tf.dispose([x, onehot]);
  opt.dispose();
  tf.disposeVariables();
}

const info = tf.backend().adapterInfo ?? {};
const flags = {};
for (const f of Object.keys(tf.env().features)) if (f.startsWith('WEBGPU')) flags[f] = tf.env().get(f);
console.log(JSON.stringify({ engine: 'tfjs-webgpu', adapter: `${info.vendor ?? '-'} ${info.architecture ?? '-'}`, versions, flags, results }));
process.exit(0);
