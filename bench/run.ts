// SPDX-License-Identifier: MIT
// `npm run bench`: adapter, LP_NUM_THREADS and the ceilings, then the benchmarks.
//   gemm (./gemm.ts, imported: same device), then the other bench files, each loaded as its own
//   bundle (dist/bench/<name>.js) with its own device: they run on import, or export run().
//   A bench that is missing or fails is reported and skipped.
//   node dist/bench/run.js [--only gemm,conv,norm-pool,ops,reads,optim,models] [flags of the benches]

import { init, close } from '../src/tensor/device.js';
import { fmaRates, bandwidthRates } from './ceiling.js';
import { run as runGemm } from './gemm.js';
import { fmt } from './timing.js';

/** Bench files run after gemm, in this order (models.ts times whole networks and is the slowest). */
const OTHERS = ['conv', 'norm-pool', 'ops', 'reads', 'optim', 'models'];

const onlyArg = process.argv.indexOf('--only');
const only = onlyArg >= 0 ? process.argv[onlyArg + 1].split(',') : null;
const wanted = (name: string) => !only || only.includes(name);

const info = await init();
console.log(`adapter: ${info.description || info.device} (vendor ${info.vendor || '-'}, architecture ${info.architecture || '-'}, subgroup size ${info.subgroupSize || '-'})`);
console.log(`features: ${info.features.join(', ')}`);
console.log(`LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? 'unset'}, date ${new Date().toISOString().slice(0, 10)}`);
const chain = await fmaRates('chain');
const thr = await fmaRates('throughput');
const bw = await bandwidthRates();
console.log(`FMA ceiling ${fmt(chain.wall)} GFLOP/s (${fmt(chain.perCpuSecond)} per worker cpu-s); independent-FMA throughput ${fmt(thr.wall)} GFLOP/s; copy bandwidth ${fmt(bw.wall, 2)} GB/s`);
if (wanted('gemm')) {
  console.log('\n## gemm');
  await runGemm();
}
await close();

for (const name of OTHERS.filter(wanted)) {
  console.log(`\n## ${name}`);
  try {
    const specifier = `./${name}.js`; // a separate bundle; may be absent in some checkouts
    const mod = (await import(/* @vite-ignore */ specifier)) as { run?: () => Promise<unknown> };
    if (typeof mod.run === 'function') await mod.run();
  } catch (err) {
    console.log(`(${name} skipped: ${(err as Error).message.split('\n')[0]})`);
  }
}
process.exit(0);
