// SPDX-License-Identifier: MIT
// GEMM throughput for square fp32 matrices, as a fraction of the FMA ceiling measured in the
// same run (bench/ceiling.ts).
//   GFLOP/s = 2 * M * N * K / seconds        (one multiply and one add per term)
// Every kernel variant is first checked against the float64 CPU reference and the naive kernel
// on odd and transposed shapes; the timings follow only if "All results match" is printed.
// For each size the ceiling is measured again just before the kernel. Two ratios are printed:
// by wall time, and by worker-thread CPU time (steady when the machine is shared; timing.ts).
//
//   npm run build && node dist/bench/gemm.js [--sizes 256,512,1024,2048] [--4096] [--all]
//     --4096   also time 4096 x 4096 (about a minute on 2 cores)
//     --all    time every variant at every size (default: the chosen one, plus the generic
//              'blocked' kernel up to 1024 for comparison)

import { init, close, gpu, isInitialized, isCpuAdapter } from '../src/tensor/device.js';
import { gemm, chooseGemmVariant, type GemmVariant, type MatrixView } from '../src/kernels/matmul.js';
import { matmulRef } from '../src/kernels/reference/matmul.js';
import { tensor } from '../src/ops/creation.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { fmaRates, type Rate } from './ceiling.js';
import { timeIt, fmt } from './timing.js';

export interface GemmRow {
  size: number;
  variant: GemmVariant;
  ms: number;
  gflops: number;
  ofCeiling: number;
  gflopsPerCpuSecond: number;
  ofCeilingByCpu: number;
  ceiling: Rate;
}

function option(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function randomArray(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

function availableVariants(): GemmVariant[] {
  const ctx = gpu();
  const v: GemmVariant[] = ['naive', 'blocked', 'tiled'];
  if (ctx.hasSubgroups && ctx.info.subgroupSize === 8) v.push('subgroup');
  return v;
}

const view = (t: Tensor, rows: number, cols: number, transposed: boolean): MatrixView =>
  ({ buffer: t.buffer, offset: 0, batchStride: rows * cols, rowStride: transposed ? 1 : cols, colStride: transposed ? rows : 1 });

/** Every variant against the float64 reference (and so against the naive kernel). Throws on a mismatch. */
async function validate(): Promise<void> {
  const shapes: Array<[number, number, number, boolean]> = [[37, 53, 29, false], [256, 256, 256, false], [130, 100, 68, true]];
  for (const [M, K, N, transB] of shapes) {
    const av = randomArray(M * K, M + K);
    const bv = randomArray(K * N, K + N);
    // transB: B is stored as (N, K) and read through swapped strides
    const bStored = transB ? Float32Array.from({ length: K * N }, (_, i) => bv[(i % K) * N + Math.floor(i / K)]) : bv;
    const want = matmulRef(av, bv, M, K, N);
    let scale = 0;
    for (const x of want) scale = Math.max(scale, Math.abs(x));
    const a = tensor(av, [M, K]);
    const b = tensor(bStored, [bStored.length]);
    for (const variant of availableVariants()) {
      const c = gemm(view(a, M, K, false), view(b, K, N, transB), 1, M, N, K, variant);
      const got = await c.data();
      c.dispose();
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
      if (!(err <= 1e-4 * scale)) {
        throw new Error(`gemm ${variant} ${M}x${K} @ ${K}x${N}${transB ? ' (B transposed)' : ''}: max error ${err} (scale ${scale})`);
      }
    }
    a.dispose();
    b.dispose();
  }
  console.log(`All results match (${availableVariants().join(', ')} vs the float64 reference)`);
}

/** Time one variant on S x S x S (inputs resident, output disposed each run). */
async function timeGemm(a: Tensor, b: Tensor, S: number, variant: GemmVariant, ceiling: Rate): Promise<GemmRow> {
  const reps = S >= 2048 ? 3 : 5;
  const inner = Math.max(1, Math.round(2 ** 28 / S ** 3)); // small sizes: several products per timed run
  const t = await timeIt(() => {
    for (let i = 0; i < inner; i++) gemm(view(a, S, S, false), view(b, S, S, false), 1, S, S, S, variant).dispose();
  }, { warmup: 1, reps });
  t.ms /= inner;
  t.cpuMs /= inner;
  if (!isCpuAdapter(gpu().info)) t.cpuMs = Number.NaN; // host CPU time says nothing about a real GPU
  const flops = 2 * S ** 3;
  const gflops = flops / (t.ms * 1e6);
  const gflopsPerCpuSecond = flops / (t.cpuMs * 1e6);
  return { size: S, variant, ms: t.ms, gflops, ofCeiling: gflops / ceiling.wall, gflopsPerCpuSecond, ofCeilingByCpu: gflopsPerCpuSecond / ceiling.perCpuSecond, ceiling };
}

export async function run(): Promise<GemmRow[]> {
  const owned = !isInitialized();
  const info = owned ? await init() : gpu().info;
  if (owned) console.log(`# gemm — ${info.description || info.device} (LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? 'unset'})`);
  await validate();
  const sizes = (option('--sizes') ?? '256,512,1024,2048').split(',').map(Number);
  if (process.argv.includes('--4096') && !sizes.includes(4096)) sizes.push(4096);
  const all = process.argv.includes('--all');
  console.log('size   variant      ms      GFLOP/s  of ceiling   GFLOP/cpu-s  of ceiling (cpu)   ceiling GFLOP/s (cpu-s)');
  const rows: GemmRow[] = [];
  for (const S of sizes) {
    const a = tensor(randomArray(S * S, S), [S, S]);
    const b = tensor(randomArray(S * S, S + 1), [S, S]);
    const chosen = chooseGemmVariant(S, S, S, 1);
    const variants = all ? availableVariants().filter((v) => v !== 'naive' || S <= 512) : [chosen, ...(S <= 1024 && chosen !== 'blocked' ? ['blocked' as const] : [])];
    for (const variant of variants) {
      const ceiling = await fmaRates('chain');
      const r = await timeGemm(a, b, S, variant, ceiling);
      rows.push(r);
      const pct = (x: number) => `${fmt(100 * x, 0)}%`;
      console.log(
        `${String(S).padEnd(6)} ${(variant + (variant === chosen ? '*' : '')).padEnd(10)} ${fmt(r.ms, 1).padStart(8)} ${fmt(r.gflops).padStart(10)} ${pct(r.ofCeiling).padStart(9)}   ` +
          `${fmt(r.gflopsPerCpuSecond).padStart(10)} ${pct(r.ofCeilingByCpu).padStart(12)}        ${fmt(ceiling.wall)} (${fmt(ceiling.perCpuSecond)})`,
      );
    }
    a.dispose();
    b.dispose();
  }
  const thr = await fmaRates('throughput');
  const best = rows.filter((r) => r.variant === chooseGemmVariant(r.size, r.size, r.size, 1)).at(-1);
  console.log(`(* = the variant wg.matmul uses.) Independent-FMA throughput: ${fmt(thr.wall)} GFLOP/s (${fmt(thr.perCpuSecond)} per cpu-s)` +
    (best ? `; the ${best.size} GEMM reaches ${fmt((100 * best.gflopsPerCpuSecond) / thr.perCpuSecond, 0)}% of it by cpu time.` : ''));
  if (owned) await close();
  return rows;
}

// Run directly (node dist/bench/gemm.js), not when bundled into run.js.
if (process.argv[1]?.endsWith('gemm.js')) {
  await run();
  process.exit(0);
}
