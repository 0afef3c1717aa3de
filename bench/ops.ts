// SPDX-License-Identifier: MIT
// The general ops a PyTorch-style program leans on besides the ResNet kernels: broadcasting,
// views made contiguous, cat, reductions over any axes, casts, creation, random numbers, softmax.
// Each row: time per call on [32, 64, 32, 32] (8.4 MB), GB/s of the bytes that must move, its
// ratio to the copy ceiling (bench/ceiling.ts, read just before each round, the rounds going over
// the whole table in turn, as in norm-pool.ts) and to relu's byte rate in the same round (relu is
// one read and one write per element, the simplest pass there is). All ratios by worker CPU time
// (the steadier clock, see timing.ts). Each op is first checked against a host computation on a
// small case.
//   Run: npm run build && node dist/bench/ops.js [name filter]

import * as wg from '../src/index.js';
import { timeAgainstCeiling, ceilingRange, type Rate } from './ceiling.js';

const F = wg.nn.functional;
const only = process.argv[2] ?? '';
const SHAPE = [32, 64, 32, 32];
const ROUNDS = 3;

interface Row {
  name: string;
  /** Bytes that must move: what is read and written, counted per float32 element. */
  bytes: number;
  run: () => void;
}

/** Small host-checked cases: the ops below compute what they claim before they are timed. */
async function check(): Promise<void> {
  const x = wg.tensor([[1, -2, 3, -4], [5, -6, 7, -8]]);
  const expectEqual = async (what: string, t: wg.Tensor, want: number[]) => {
    const got = Array.from(await t.data());
    if (got.length !== want.length || got.some((v, i) => Math.abs(v - want[i]) > 1e-5 * Math.max(1, Math.abs(want[i])))) {
      throw new Error(`${what}: got ${got.join(',')}, want ${want.join(',')}`);
    }
    t.dispose();
  };
  await expectEqual('add bias', wg.add(x, wg.tensor([[10], [20]])), [11, 8, 13, 6, 25, 14, 27, 12]);
  await expectEqual('transpose contiguous', x.transpose(0, 1).contiguous(), [1, 5, -2, -6, 3, 7, -4, -8]);
  await expectEqual('cat', wg.cat([x, x], 0).slice(0, 1, 3).contiguous(), [5, -6, 7, -8, 1, -2, 3, -4]);
  await expectEqual('sum', x.sum(), [-4]);
  await expectEqual('mean rows', x.mean(1), [-0.5, -0.5]);
  await expectEqual('max cols', x.max(0), [5, -2, 7, -4]);
  await expectEqual('to int32', wg.tensor([1.7, -2.7, 3.2, -0.2]).to('int32'), [1, -2, 3, 0]);
  await expectEqual('softmax', F.softmax(wg.tensor([[0, Math.log(3)]]), -1), [0.25, 0.75]);
  x.dispose();
}

async function bench(): Promise<void> {
  const info = await wg.init();
  console.log(`general ops bench: ${info.description || info.device || info.vendor}, LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? '(unset)'}`);
  await check();
  console.log('All ops match their host values on small cases.');
  const x = wg.randn(SHAPE, { seed: 1 });
  const y = wg.randn(SHAPE, { seed: 2 });
  const bias = wg.randn([1, SHAPE[1], 1, 1], { seed: 3 });
  const row = wg.randn([SHAPE[3]], { seed: 4 });
  // The same broadcast over the small planes of a network's last stages: rows of 49 floats (not
  // whole vec4s) and of 196 (49 vec4s, an odd number of runs of 4).
  const small = [[32, 512, 7, 7], [8, 256, 14, 14]].map((shape, i) => ({
    shape, x: wg.randn(shape, { seed: 20 + i }), bias: wg.randn([1, shape[1], 1, 1], { seed: 30 + i }),
  }));
  const n = x.size;
  const B = 4 * n;
  const d = (t: wg.Tensor) => t.dispose();
  const rows: Row[] = [
    { name: 'relu (the reference pass)', bytes: 2 * B, run: () => d(wg.relu(x)) },
    { name: 'x + bias [1, C, 1, 1]', bytes: 2 * B, run: () => d(wg.add(x, bias)) },
    ...small.map((p) => ({ name: `x + bias on [${p.shape.join(', ')}]`, bytes: 8 * p.x.size, run: () => d(wg.add(p.x, p.bias)) })),
    { name: 'x + row [W]', bytes: 2 * B, run: () => d(wg.add(x, row)) },
    { name: 'x.transpose(2, 3) * 2', bytes: 2 * B, run: () => d(x.transpose(2, 3).mul(2)) },
    { name: 'permute to NHWC, contiguous()', bytes: 2 * B, run: () => d(x.permute([0, 2, 3, 1]).contiguous()) },
    { name: 'slice of the last axis, contiguous()', bytes: (2 * B * 30) / 32, run: () => d(x.slice(3, 1, 31).contiguous()) },
    { name: 'cat([x, y], 1)', bytes: 4 * B, run: () => d(wg.cat([x, y], 1)) },
    { name: 'x.sum()', bytes: B, run: () => d(x.sum()) },
    { name: 'x.sum(0)', bytes: B, run: () => d(x.sum(0)) },
    { name: 'x.max(1) (over channels)', bytes: B, run: () => d(x.max(1)) },
    { name: 'x.mean([2, 3])', bytes: B, run: () => d(x.mean([2, 3])) },
    { name: 'x.sum(3) (rows of 32)', bytes: B, run: () => d(x.sum(3)) },
    { name: 'x.argmax(1)', bytes: B, run: () => d(x.argmax(1)) },
    { name: "x.to('int32')", bytes: 2 * B, run: () => d(x.to('int32')) },
    { name: 'zeros', bytes: B, run: () => d(wg.zeros(SHAPE)) },
    { name: 'arange', bytes: B, run: () => d(wg.arange(n)) },
    { name: 'randn', bytes: B, run: () => d(wg.randn(SHAPE, { seed: 5 })) },
    { name: 'dropout(p = 0.5)', bytes: 2 * B, run: () => d(F.dropout(x, 0.5, true)) },
    { name: 'softmax over channels', bytes: 2 * B, run: () => d(F.softmax(x, 1)) },
    { name: 'softmax over the last axis', bytes: 2 * B, run: () => d(F.softmax(x, -1)) },
  ];
  const ceilings: Rate[] = [];
  // relu is timed in every round beside each row, so every ratio to it is of the same minutes.
  const relu = rows[0];
  const timed = rows.filter((r) => !only || r.name.includes(only) || r === relu);
  const results = await timeAgainstCeiling(
    timed.map((r) => ({ bytes: r.bytes, run: () => wg.noGrad(r.run) })), ceilings, ROUNDS, { bytes: relu.bytes, run: () => wg.noGrad(relu.run) },
  );
  // (On a GPU the worker threads barely run and the CPU-time ratios are not finite.)
  const pct = (v: number) => (Number.isFinite(v) ? `${(100 * v).toFixed(0)}%` : '-');
  const lines = timed.map((r, i) => {
    const t = results[i];
    return `  ${r.name.padEnd(38)} ${t.ms.toFixed(2).padStart(7)} ms  ${(r.bytes / t.ms / 1e6).toFixed(2).padStart(6)} GB/s  ` +
      `${pct(t.cpuRatio).padStart(4)} of copy ceiling, ${Number.isFinite(t.besideRatio) ? t.besideRatio.toFixed(2) : '-'}x relu (CPU time)`;
  });
  console.log(`x ${JSON.stringify(SHAPE)}: ${ceilingRange(ceilings)}`);
  for (const line of lines) console.log(line);
  for (const t of [x, y, bias, row, ...small.flatMap((p) => [p.x, p.bias])]) t.dispose();
  await wg.close();
}

await bench();
