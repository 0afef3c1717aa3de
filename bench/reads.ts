// SPDX-License-Identifier: MIT
// What a read costs on this adapter (wgsl/read_patterns.wgsl): the same per-channel sums over
// NCHW tensors, read channel by channel (as a batch-norm reduction walks them), with a second
// tensor, with a second load of the same lines, twice over, and in memory order. Each pattern's
// time per dispatch comes from GPU timestamps (wg.profile: on a CPU adapter, the CPU's clock),
// the patterns interleaved over several rounds so that a drifting host moves them alike; the
// medians are printed with GB/s of the bytes the pattern reads and its time relative to
// `walk_one`. What it showed on lavapipe (bench/RESULTS.md, ninth session): a load costs half or
// more of its price even where its data is in the core's L2 (walk_twice) or was just loaded
// (walk_same_lines), and memory order does not help a read (runs_one).
// Run: npm run build && node dist/bench/reads.js [N,C,H,W] [--rounds R]

import readSource from './wgsl/read_patterns.wgsl';
import * as wg from '../src/index.js';
import { defineKernel, launch } from '../src/kernels/launch.js';
import { Uniforms } from '../src/kernels/uniforms.js';
import { emptyTensor } from '../src/tensor/tensor.js';
import { median } from './timing.js';

const args = process.argv.slice(2);
const shapeArg = args.find((a) => /^\d+(,\d+){3}$/.test(a));
const [N, C, H, W] = (shapeArg ?? '32,64,32,32').split(',').map(Number);
const rounds = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 12;
const CALLS = 6; // dispatches per profiled run
const RUN = 8;   // runs_one: planes per workgroup

interface Pattern {
  entry: string;
  /** Distinct bytes the pattern reads, in tensor passes (one pass = 4 * N * C * H * W bytes). */
  passes: number;
  what: string;
}
const PATTERNS: Pattern[] = [
  { entry: 'walk_one', passes: 1, what: 'one tensor, channel by channel' },
  { entry: 'walk_two', passes: 2, what: 'two tensors, channel by channel' },
  { entry: 'walk_same_lines', passes: 1, what: 'one tensor, two loads per vec4 (same lines)' },
  { entry: 'walk_twice', passes: 2, what: 'one tensor, each channel walked twice' },
  { entry: 'runs_one', passes: 1, what: `one tensor, ${RUN} planes per workgroup in memory order` },
];

async function main(): Promise<void> {
  const info = await wg.init();
  if ((H * W) % 4 !== 0) throw new Error(`reads: H * W must be a multiple of 4 (got ${H}x${W})`);
  const S = (H * W) / 4;
  const n = N * C * H * W;
  console.log(`read patterns on ${info.description}: x [${N},${C},${H},${W}], ${((4 * n) / 1e6).toFixed(1)} MB per tensor, ${rounds} interleaved rounds of ${CALLS} dispatches`);
  const a = wg.randn([n], { seed: 1 }).keep();
  const b = wg.randn([n], { seed: 2 }).keep();
  const out = emptyTensor([Math.max(C, Math.ceil((N * C) / RUN)) * 4], 'float32', 'read sums');
  const params = new Uniforms().u32(N).u32(C).u32(S).u32(0).finish();
  const kernels = PATTERNS.map((pt) => defineKernel('read_patterns', readSource, ['read', 'read', 'read_write', 'uniform'], pt.entry));
  const dispatch = (i: number) => launch(kernels[i], {
    buffers: [a.buffer, b.buffer, out.buffer],
    params,
    workgroups: [PATTERNS[i].entry === 'runs_one' ? Math.ceil((N * C) / RUN) : C],
    constants: { WG: PATTERNS[i].entry === 'runs_one' ? 64 : 32, RUN },
    label: PATTERNS[i].entry,
  });
  const times: number[][] = PATTERNS.map(() => []);
  for (let r = 0; r < rounds + 1; r++) {
    for (let i = 0; i < PATTERNS.length; i++) {
      const rows = await wg.profile(() => { for (let k = 0; k < CALLS; k++) dispatch(i); });
      if (r > 0) times[i].push(rows[0].ms / rows[0].count); // round 0 compiles the pipelines
    }
  }
  const base = median(times[0]);
  for (let i = 0; i < PATTERNS.length; i++) {
    const ms = median(times[i]);
    const gbps = (PATTERNS[i].passes * 4 * n) / ms / 1e6;
    console.log(`  ${PATTERNS[i].entry.padEnd(16)} ${ms.toFixed(3).padStart(8)} ms  ${gbps.toFixed(2).padStart(6)} GB/s read  ${(ms / base).toFixed(2)}x walk_one   ${PATTERNS[i].what}`);
  }
  for (const t of [a, b, out]) t.dispose();
  await wg.close();
}

await main();
