// SPDX-License-Identifier: MIT
// Batch-norm, pooling and elementwise bandwidth on ResNet-sized activations: [32, 64, 32, 32] (CIFAR ResNet
// stage 1 at batch 32), [8, 64, 56, 56] (ImageNet ResNet stage 1 at batch 8), [32, 512, 7, 7] (ImageNet
// ResNet-18/34 stage 4 at batch 32: planes of 49 floats, not whole vec4s) and [128, 64, 8, 8] (CIFAR
// ResNet stage 3 at batch 128: planes of 16 vec4s).
//
//   GB/s = bytes that must move / seconds per call, counted per float32 element (4 bytes):
//     add, addRelu                  read 2, write 1                              3 * 4 * n
//     relu                          read 1, write 1                              2 * 4 * n
//     batchNorm forward, training   read x twice (stats, apply), write y        3 * 4 * n
//                                   (in one dispatch, where it applies, the second read hits the cache)
//     batchNorm forward, eval       read x, write y                              2 * 4 * n
//     batchNorm backward, training  read gy, x twice (reduce, dx), write dx      5 * 4 * n
//                                   (in one dispatch, where it applies, the second reads hit the cache)
//     maxPool2d 3x3 s2 p1 forward   read x, write y and the int32 argmax         4 * n + 8 * m
//     maxPool2d 3x3 s2 p1 backward  read gy and argmax, write dx                  8 * m + 4 * n
//     avgPool2d 2x2 s2 forward      read x, write y                               4 * n + 4 * m
//     avgPool2d 2x2 s2 backward     read gy, write dx                             4 * m + 4 * n
//     adaptiveAvgPool2d [1,1] fwd   read x                                        4 * n (+ tiny)
//     adaptiveAvgPool2d [1,1] bwd   write dx                                      4 * n (+ tiny)
// with n input and m output elements; the per-channel statistics are negligible. The ratios are
// to the device's shader copy ceiling (bench/ceiling.ts's bandwidthRates), by wall time and by
// worker-thread CPU time (the steadier one, see bench/timing.ts). The host's speed drifts by tens
// of percent within a minute (other jobs share its cores), so each row is timed in five rounds,
// each right after a reading of the ceiling, the rounds going over a shape's whole table in turn,
// and a row's ratio is the median of its rounds' ratios: each kernel is compared with the ceiling
// of the same few hundred milliseconds, not with one reading taken minutes before it, and one
// slow phase of the host spoils one round of a row, not its median (bench/ceiling.ts's
// timeAgainstCeiling; the range of the ceiling's readings is printed per shape). Every op is
// first checked against its float64 reference (src/kernels/reference) on the very shapes timed.
// Each time is a median (bench/timing.ts).
// (Broadcasting, views made contiguous, cat, reductions, casts: bench/ops.ts.)
// Run: npm run build && node dist/bench/norm-pool.js [name filter] [--contend]
//   (with a filter, only the rows whose name contains it are timed, e.g. `maxPool2d`; with
//   --contend, a memory-streaming neighbour process runs throughout: a busy host on demand,
//   see bench/contend.ts)

import * as wg from '../src/index.js';
import { bandwidthRates, timeAgainstCeiling, ceilingRange, type Rate } from './ceiling.js';
import { timePerCall, type Timing } from './timing.js';
import { startContention } from './contend.js';
import { batchNormGeometry, batchNormStatistics, batchNormBackward, BATCH_NORM_LAUNCH } from '../src/kernels/batch-norm.js';
import { pool2dGeometry, poolRowsApply, poolPlanesApply, maxPool2dForward, maxPool2dBackward, avgPool2dForward, avgPool2dBackward } from '../src/kernels/pool.js';
import { globalAvgPool2dForward, globalAvgPool2dBackward } from '../src/kernels/adaptive-pool.js';
import { batchNormForwardRef, batchNormBackwardRef } from '../src/kernels/reference/batch-norm.js';
import {
  maxPool2dRef, maxPool2dBackwardRef, avgPool2dRef, avgPool2dBackwardRef, adaptiveAvgPool2dRef, adaptiveAvgPool2dBackwardRef,
} from '../src/kernels/reference/pool.js';

const F = wg.nn.functional;
const args = process.argv.slice(2);
/** Time only the rows whose name contains this (first argument), e.g. 'maxPool2d'. */
const only = args.find((a) => !a.startsWith('--')) ?? '';
const contend = args.includes('--contend');
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 1e-12;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / scale);
  return worst;
}

function expectMatch(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: number): number {
  const err = maxRelError(got, want);
  if (!(err <= tol)) throw new Error(`${what}: GPU result differs from the float64 reference (max relative error ${err.toExponential(2)} > ${tol})`);
  return err;
}

interface Row {
  name: string;
  bytes: number;
  run: () => void;
}

/**
 * A row that runs `run` under other batch-norm launch settings (e.g. planeRuns: 0, the passes
 * before plane runs; onePassBytes: 0, three dispatches instead of one), restored after each call.
 */
function withLaunch(name: string, bytes: number, settings: Partial<typeof BATCH_NORM_LAUNCH>, run: () => void): Row {
  return {
    name,
    bytes,
    run: () => {
      const saved = { ...BATCH_NORM_LAUNCH };
      Object.assign(BATCH_NORM_LAUNCH, settings);
      try {
        run();
      } finally {
        Object.assign(BATCH_NORM_LAUNCH, saved);
      }
    },
  };
}

async function benchShape(shape: number[]): Promise<void> {
  const n = numel(shape);
  const C = shape[1];
  console.log(`\nx ${JSON.stringify(shape)}: ${(n / 1e6).toFixed(2)} M floats, ${((4 * n) / 1e6).toFixed(1)} MB`);
  const x = wg.randn(shape, { seed: 11, mean: 0.5, std: 2 });
  const gy = wg.randn(shape, { seed: 12 });
  const weight = wg.rand([C], { seed: 13, low: 0.5, high: 1.5 });
  const bias = wg.randn([C], { seed: 14, std: 0.1 });
  const rm = wg.zeros([C]);
  const rv = wg.ones([C]);
  const host = await x.data();
  const gyHost = await gy.data();
  const wHost = await weight.data();
  const bHost = await bias.data();

  // ---- validate on the timed shapes --------------------------------------------------------
  const g = batchNormGeometry(shape);
  const bnOpts = { training: true, momentum: 0.1, eps: 1e-5 };
  const y = wg.noGrad(() => F.batchNorm(x, null, null, weight, bias, bnOpts));
  const ref = batchNormForwardRef(host, shape, null, null, wHost, bHost, bnOpts);
  const errs: string[] = [];
  errs.push(`bn fwd ${expectMatch('batchNorm forward', await y.data(), ref.y, 1e-4).toExponential(1)}`);
  y.dispose();
  const stats = batchNormStatistics(x, g, { ...bnOpts, runningMean: null, runningVar: null, weight, bias });
  const bw = batchNormBackward(gy, x, stats, g, { training: true, weight, needInput: true, needWeight: true, needBias: true });
  const bref = batchNormBackwardRef(gyHost, host, shape, ref.mean, ref.invstd, wHost, true);
  errs.push(`bn dx ${expectMatch('batchNorm dx', await bw.dx!.data(), bref.dx, 1e-3).toExponential(1)}`);
  errs.push(`bn dgamma ${expectMatch('batchNorm dweight', await bw.dweight!.data(), bref.dweight, 1e-3).toExponential(1)}`);
  expectMatch('batchNorm dbias', await bw.dbias!.data(), bref.dbias, 1e-3);
  for (const t of [bw.dx, bw.dweight, bw.dbias]) t?.dispose();

  const maxSpec = { kernel: [3, 3], stride: [2, 2], padding: [1, 1], dilation: [1, 1], ceilMode: false, countIncludePad: true } as const;
  const mg = pool2dGeometry('maxPool2d', shape, maxSpec);
  const mp = maxPool2dForward(x, mg);
  const mref = maxPool2dRef(host, mg);
  expectMatch('maxPool2d forward', await mp.y.data(), mref.y, 0);
  for (const method of poolRowsApply(mg, 'forward') ? (['rows', 'plain'] as const) : (['plain'] as const)) {
    const other = maxPool2dForward(x, mg, method);
    expectMatch(`maxPool2d forward (${method})`, await other.y.data(), mref.y, 0);
    other.y.dispose();
    other.argmax.dispose();
  }
  const m = mp.y.size;
  const gyPool = wg.randn([...mp.y.shape], { seed: 15 });
  const mdxWant = maxPool2dBackwardRef(await gyPool.data(), mref.argmax, mg);
  const maxMethods = [...(poolPlanesApply(mg) ? ['planes'] as const : []), ...(poolRowsApply(mg, 'backward') ? ['strips', 'rows'] as const : []), 'scatter', 'gather'] as const;
  for (const method of maxMethods) {
    const mdx = maxPool2dBackward(gyPool, mp.argmax, mg, method);
    errs.push(`max dx (${method}) ${expectMatch(`maxPool2d dx (${method})`, await mdx.data(), mdxWant, 1e-6).toExponential(1)}`);
    mdx.dispose();
  }

  const avgSpec = { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceilMode: false, countIncludePad: true } as const;
  const ag = pool2dGeometry('avgPool2d', shape, avgSpec);
  const ap = wg.noGrad(() => F.avgPool2d(x, { kernelSize: 2 }));
  expectMatch('avgPool2d forward', await ap.data(), avgPool2dRef(host, ag), 1e-5);
  const am = ap.size;
  const gyAvg = wg.randn([...ap.shape], { seed: 16 });
  const apPlain = avgPool2dForward(x, ag, 'plain');
  expectMatch('avgPool2d forward (plain)', await apPlain.data(), avgPool2dRef(host, ag), 1e-5);
  apPlain.dispose();
  for (const method of [...(poolPlanesApply(ag) ? ['planes'] as const : []), ...(poolRowsApply(ag, 'backward') ? ['rows'] as const : []), 'plain'] as const) {
    const adx = avgPool2dBackward(gyAvg, ag, method);
    expectMatch(`avgPool2d dx (${method})`, await adx.data(), avgPool2dBackwardRef(await gyAvg.data(), ag), 1e-5);
    adx.dispose();
  }
  ap.dispose();
  const gg = { N: shape[0], C, H: shape[2], W: shape[3], OH: 1, OW: 1 };
  const gp = wg.noGrad(() => F.adaptiveAvgPool2d(x, 1));
  expectMatch('adaptiveAvgPool2d', await gp.data(), adaptiveAvgPool2dRef(host, gg), 1e-5);
  const gpTree = globalAvgPool2dForward(x, gg, 'tree');
  expectMatch('adaptiveAvgPool2d (tree)', await gpTree.data(), adaptiveAvgPool2dRef(host, gg), 1e-5);
  gpTree.dispose();
  const gyGlobal = wg.randn([shape[0], C, 1, 1], { seed: 17 });
  const gdx = globalAvgPool2dBackward(gyGlobal, gg);
  expectMatch('adaptiveAvgPool2d dx', await gdx.data(), adaptiveAvgPool2dBackwardRef(await gyGlobal.data(), gg), 1e-6);
  gp.dispose();
  gdx.dispose();
  console.log(`All results match the float64 references (max rel. errors: ${errs.join(', ')})`);
  const onePass = g.onePass;
  const layout = g.planeGroups ? 'whole vec4s, four channels per workgroup' : g.splitVec4 ? 'vec4s straddling planes' : g.vec4 ? 'vec4' : 'scalar';
  console.log(`batch-norm reduction grid: ${g.P} chunk(s) x ${g.planeGroups ? `${C / 4} groups of four` : C} channels, ${layout} loads`);

  // ---- time ----------------------------------------------------------------------------------
  const trainingForward = () => wg.noGrad(() => F.batchNorm(x, rm, rv, weight, bias, { training: true })).dispose();
  const evalForward = () => wg.noGrad(() => F.batchNorm(x, rm, rv, weight, bias, { training: false })).dispose();
  // The geometry is recomputed per call, so that a row's launch settings take effect.
  const backward = () => {
    const r = batchNormBackward(gy, x, stats, batchNormGeometry(shape), { training: true, weight, needInput: true, needWeight: true, needBias: true });
    for (const t of [r.dx, r.dweight, r.dbias]) t?.dispose();
  };
  const rows: Row[] = [
    // The elementwise passes of a ResNet step, for reference: the residual add (also the
    // gradient accumulation of a block's input), ReLU, and the fused residual add + ReLU.
    { name: 'add (x + gy)', bytes: 3 * 4 * n, run: () => wg.noGrad(() => wg.add(x, gy)).dispose() },
    { name: 'relu', bytes: 2 * 4 * n, run: () => wg.noGrad(() => wg.relu(x)).dispose() },
    { name: 'addRelu (relu(x + gy))', bytes: 3 * 4 * n, run: () => wg.noGrad(() => F.addRelu(x, gy)).dispose() },
    // In one dispatch (batch_norm_forward_one_pass.wgsl, on CPU adapters where a channel fits the
    // cache) x is still read twice, the second time from the cache; three dispatches beside it.
    { name: 'batchNorm forward (training)', bytes: 3 * 4 * n, run: trainingForward },
    ...(onePass ? [withLaunch('  (three dispatches instead)', 3 * 4 * n, { onePassBytes: 0 }, trainingForward)] : []),
    { name: 'batchNorm forward (eval)', bytes: 2 * 4 * n, run: evalForward },
    ...(g.planeRuns > 0 ? [withLaunch('  (without plane runs)', 2 * 4 * n, { planeRuns: 0 }, evalForward)] : []),
    { name: 'batchNorm backward (training)', bytes: 5 * 4 * n, run: backward },
    // In one dispatch (batch_norm_backward_input.wgsl's main_one_pass, on CPU adapters where a
    // channel's x and gy fit the L2 cache) x and gy are still read twice, the second time from
    // the cache; three dispatches beside it.
    ...(g.backwardOnePass ? [withLaunch('  (three dispatches instead)', 5 * 4 * n, { backwardOnePassBytes: 0 }, backward)] : []),
    ...(g.planeRuns > 0 && !g.backwardOnePass ? [withLaunch('  (without plane runs)', 5 * 4 * n, { planeRuns: 0 }, backward)] : []),
    {
      name: 'maxPool2d 3x3 s2 p1 forward',
      bytes: 4 * n + 8 * m,
      run: () => {
        const r = maxPool2dForward(x, mg);
        r.y.dispose();
        r.argmax.dispose();
      },
    },
    ...(poolRowsApply(mg, 'forward')
      ? [{
          name: '  (vec4 row kernel instead)',
          bytes: 4 * n + 8 * m,
          run: () => {
            const r = maxPool2dForward(x, mg, 'rows');
            r.y.dispose();
            r.argmax.dispose();
          },
        }]
      : []),
    {
      name: '  (one output per invocation)',
      bytes: 4 * n + 8 * m,
      run: () => {
        const r = maxPool2dForward(x, mg, 'plain');
        r.y.dispose();
        r.argmax.dispose();
      },
    },
    { name: 'maxPool2d 3x3 s2 p1 backward', bytes: 8 * m + 4 * n, run: () => maxPool2dBackward(gyPool, mp.argmax, mg).dispose() },
    ...(poolRowsApply(mg, 'backward') && poolPlanesApply(mg)
      ? [{ name: '  (strip kernel instead)', bytes: 8 * m + 4 * n, run: () => maxPool2dBackward(gyPool, mp.argmax, mg, 'strips').dispose() }]
      : []),
    ...(poolRowsApply(mg, 'backward')
      ? [{ name: '  (block row kernel instead)', bytes: 8 * m + 4 * n, run: () => maxPool2dBackward(gyPool, mp.argmax, mg, 'rows').dispose() }]
      : []),
    { name: '  (phased scatter instead)', bytes: 8 * m + 4 * n, run: () => maxPool2dBackward(gyPool, mp.argmax, mg, 'scatter').dispose() },
    { name: '  (one-input gather instead)', bytes: 8 * m + 4 * n, run: () => maxPool2dBackward(gyPool, mp.argmax, mg, 'gather').dispose() },
    { name: 'avgPool2d 2x2 s2 forward', bytes: 4 * n + 4 * am, run: () => wg.noGrad(() => F.avgPool2d(x, { kernelSize: 2 })).dispose() },
    { name: '  (one output per invocation)', bytes: 4 * n + 4 * am, run: () => avgPool2dForward(x, ag, 'plain').dispose() },
    { name: 'avgPool2d 2x2 s2 backward', bytes: 4 * am + 4 * n, run: () => avgPool2dBackward(gyAvg, ag).dispose() },
    { name: '  (one input per invocation)', bytes: 4 * am + 4 * n, run: () => avgPool2dBackward(gyAvg, ag, 'plain').dispose() },
    { name: 'adaptiveAvgPool2d [1,1] forward', bytes: 4 * n, run: () => wg.noGrad(() => F.adaptiveAvgPool2d(x, 1)).dispose() },
    { name: '  (tree layout, the GPU one)', bytes: 4 * n, run: () => globalAvgPool2dForward(x, gg, 'tree').dispose() },
    { name: 'adaptiveAvgPool2d [1,1] backward', bytes: 4 * n, run: () => globalAvgPool2dBackward(gyGlobal, gg).dispose() },
  ];
  const ceilings: Rate[] = [];
  const timed = rows.filter((row) => !only || row.name.includes(only));
  const results = await timeAgainstCeiling(timed, ceilings);
  if (ceilings.length) console.log(ceilingRange(ceilings));
  const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(0)}%` : '-');
  for (const [i, row] of timed.entries()) {
    const t = results[i];
    console.log(
      `  ${row.name.padEnd(34)} ${t.ms.toFixed(2).padStart(8)} ms  ${(row.bytes / t.ms / 1e6).toFixed(2).padStart(6)} GB/s  ` +
        `${pct(t.wallRatio).padStart(4)} of copy ceiling (wall), ${pct(t.cpuRatio).padStart(4)} (CPU time)`,
    );
  }
  // Launch settings of the batch-norm reductions (the lanes per workgroup): results were
  // validated above with the default; other settings are checked by test/nn/norm.test.ts.
  const defaults = { ...BATCH_NORM_LAUNCH };
  for (const reduceWG of only ? [] : [8, 16, 32, 64, 128, 256]) {
    Object.assign(BATCH_NORM_LAUNCH, { reduceWG });
    const gs = batchNormGeometry(shape);
    const st = batchNormStatistics(x, gs, { ...bnOpts, runningMean: null, runningVar: null, weight, bias });
    const fwd = await timePerCall(() => wg.noGrad(() => F.batchNorm(x, rm, rv, weight, bias, { training: true })).dispose());
    const bwd = await timePerCall(() => {
      const r = batchNormBackward(gy, x, st, gs, { training: true, weight, needInput: true, needWeight: true, needBias: true });
      for (const t of [r.dx, r.dweight, r.dbias]) t?.dispose();
    });
    st.dispose();
    const mark = reduceWG === defaults.reduceWG ? '  (default)' : '';
    const rates = (bytes: number, t: Timing) => `${(bytes / t.ms / 1e6).toFixed(2)} GB/s (${(bytes / t.cpuMs / 1e6).toFixed(2)} per CPU-s)`;
    console.log(`  batch-norm reductions WG=${String(reduceWG).padStart(3)} (${gs.P} chunk(s)/channel): forward ${rates(12 * n, fwd)}, backward ${rates(20 * n, bwd)}${mark}`);
  }
  Object.assign(BATCH_NORM_LAUNCH, defaults);
  for (const t of [x, gy, weight, bias, rm, rv, stats, mp.y, mp.argmax, gyPool, gyAvg, gyGlobal]) t.dispose();
}

async function main(): Promise<void> {
  const info = await wg.init();
  const stopContention = contend ? startContention() : null;
  console.log(
    `batch-norm / pooling bench: ${info.description || info.device || info.vendor}, LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? '(unset)'}` +
      (contend ? ', with a memory-streaming neighbour process (--contend)' : ''),
  );
  const ceiling = await bandwidthRates(); // the shader copy ceiling of this run, at its start
  console.log(`copy ceiling (bench/ceiling.ts, this run): ${ceiling.wall.toFixed(2)} GB/s wall, ${ceiling.perCpuSecond.toFixed(2)} GB per worker CPU-second`);
  for (const shape of [[32, 64, 32, 32], [8, 64, 56, 56], [32, 512, 7, 7], [128, 64, 8, 8]]) await benchShape(shape);
  await stopContention?.();
  await wg.close();
}

await main();
