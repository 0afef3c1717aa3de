// SPDX-License-Identifier: MIT
// The peer comparison (issue #6): wgslgrad, TensorFlow.js's WebGPU backend (same adapter, through
// Dawn's `webgpu` package) and PyTorch on the CPU, on the same workloads, in one run.
//   cd bench/peers && npm install && npm run compare        (or: node compare.mjs [--quick] [--no-torch])
//   node compare.mjs --render    re-renders last-run.md from the raw JSON stored in it (no timing)
//
// Each engine runs in its own process, one after the other (never two at once: on lavapipe the GPU
// is the CPU): ours.ts (bundled here from ../../src with the repository's esbuild), tfjs.mjs,
// torch_cpu.py (if /usr/bin/python3 has torch; 2 threads). Each prints one JSON line; this script
// prints the table and writes it to last-run.md. See README.md for what is timed and how.

import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WORKLOADS, figure } from './timing.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const quick = process.argv.includes('--quick');
const env = { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' };
const uptime = () => {
  try {
    return execFileSync('uptime', { encoding: 'utf8' }).trim();
  } catch {
    return '(uptime unavailable)';
  }
};

/** Run one engine; its JSON is the last stdout line. Progress lines (stderr) are passed through. */
function runEngine(name, cmd, args) {
  console.log(`\n== ${name}: ${cmd} ${args.join(' ')}`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { cwd: here, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  for (const line of (r.stderr ?? '').split('\n')) {
    if (line && !line.startsWith('Warning: maxDynamic')) console.log(`   ${line}`);
  }
  const last = (r.stdout ?? '').trim().split('\n').pop();
  try {
    const out = JSON.parse(last);
    console.log(`   (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
    return out;
  } catch {
    console.log(`   ${name} failed (exit ${r.status}): ${(r.stdout ?? '').slice(-500)}`);
    return null;
  }
}


// The tables. Figures: GFLOP/s, ms or images/s as the row says; the ratio is a speed ratio
// (> 1: wgslgrad is faster), by wall time and by the shader threads' CPU time.
const fmtNum = (v) => (!Number.isFinite(v) ? '–' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const speed = (a, b, field) => (a?.[field] > 0 && b?.[field] > 0 ? b[field] / a[field] : NaN); // time of TF.js / time of ours

function render(raw) {
  const { ours, tfjs, torch } = raw;
  const get = (eng, w) => eng?.results?.[w.key];
  const rows = WORKLOADS.map((w) => {
    const [o, t, p] = [get(ours, w), get(tfjs, w), get(torch, w)];
    return `| ${w.label} | ${fmtNum(figure(w, o?.ms))} | ${fmtNum(figure(w, t?.ms))} | ${fmtNum(figure(w, p?.ms))} | ${fmtNum(speed(o, t, 'ms'))}x | ${fmtNum(speed(o, t, 'cpuMs'))}x |`;
  });
  // The same figures from CPU time / 2: what each run would take with both cores to itself
  // (the machine has 2; llvmpipe runs 2 shader threads, PyTorch 2 threads).
  const cpuRows = WORKLOADS.map((w) => {
    const [o, t, p] = [get(ours, w), get(tfjs, w), get(torch, w)];
    return `| ${w.label} | ${fmtNum(figure(w, o?.cpuMs / 2))} | ${fmtNum(figure(w, t?.cpuMs / 2))} | ${fmtNum(figure(w, p?.cpuMs / 2))} |`;
  });
  const lines = [
    `Peer comparison, ${raw.startedAt.replace('T', ' ').slice(0, 16)} UTC${raw.quick ? ' (--quick: at most 2 timed runs each)' : ''}`,
    '',
    `- adapter: ${ours?.adapter ?? tfjs?.adapter ?? '?'}; LP_NUM_THREADS=${raw.lpNumThreads ?? 'unset'}`,
    `- FMA ceiling (bench/ceiling.ts fma_peak, measured in wgslgrad's process): ${fmtNum(ours?.ceilingBefore)} GFLOP/s before its workloads, ${fmtNum(ours?.ceilingAfter)} after`,
    `- TF.js ${tfjs?.versions ? Object.entries(tfjs.versions).map(([k, v]) => `${k} ${v}`).join(', ') : '(failed)'}; flags ${tfjs?.flags ? JSON.stringify(tfjs.flags) : '-'}`,
    `- PyTorch ${torch ? `${torch.torch}, CPU, ${torch.threads} threads` : '(not run)'}`,
    `- load before: \`${raw.loadBefore}\``,
    `- load after: \`${raw.loadAfter}\``,
    '',
    '| workload | wgslgrad | TF.js WebGPU | PyTorch CPU | wgslgrad/TF.js (wall) | wgslgrad/TF.js (shader-thread CPU time) |',
    '|---|---|---|---|---|---|',
    ...rows,
    '',
    'Ratios are speed ratios: > 1 means wgslgrad is faster. Medians after warm-up; each engine ran alone, one after the other.',
    'Wall time swings with the machine\'s load; the CPU-time ratio compares the CPU time llvmpipe\'s threads spent per run in each process.',
    '',
    'The same runs by CPU time / 2 (median CPU time of the shader threads, or of PyTorch\'s process, spread over the 2 cores): a rough, optimistic estimate of each figure with both cores to itself (the FMA ceiling kernel unloaded runs ~1.3x, not 2x, its rate per CPU-second: bench/RESULTS.md).',
    '',
    '| workload | wgslgrad | TF.js WebGPU | PyTorch CPU |',
    '|---|---|---|---|',
    ...cpuRows,
  ];
  return lines.join('\n') + '\n';
}

const write = (raw) => {
  const md = render(raw);
  console.log(`\n${md}`);
  writeFileSync(join(here, 'last-run.md'), `${md}\n<details><summary>raw JSON</summary>\n\n\`\`\`json\n${JSON.stringify(raw, null, 1)}\n\`\`\`\n</details>\n`);
  console.log('written: bench/peers/last-run.md');
};

if (process.argv.includes('--render')) {
  const text = readFileSync(join(here, 'last-run.md'), 'utf8');
  write(JSON.parse(text.split('```json')[1].split('```')[0]));
  process.exit(0);
}

const startedAt = new Date();
const loadBefore = uptime();
console.log(`peer comparison, ${startedAt.toISOString()}; LP_NUM_THREADS=${process.env.LP_NUM_THREADS ?? 'unset'}`);
console.log(`load before: ${loadBefore}`);

// wgslgrad: bundle ours.ts (and the library sources it imports) with the repository's esbuild.
const bundle = join(here, 'node_modules', '.cache', 'ours.mjs');
mkdirSync(dirname(bundle), { recursive: true });
execFileSync('npx', ['esbuild', 'bench/peers/ours.ts', '--bundle', '--format=esm', '--platform=node', '--target=es2022',
  '--loader:.wgsl=text', '--packages=external', `--outfile=${bundle}`, '--log-level=warning'], { cwd: root, stdio: 'inherit' });
const flag = quick ? ['--quick'] : [];
const ours = runEngine('wgslgrad', process.execPath, [bundle, ...flag]);
const tfjs = runEngine('TF.js WebGPU', process.execPath, [join(here, 'tfjs.mjs'), ...flag]);
let torch = null;
if (!process.argv.includes('--no-torch') && spawnSync('/usr/bin/python3', ['-c', 'import torch']).status === 0) {
  torch = runEngine('PyTorch CPU', '/usr/bin/python3', [join(here, 'torch_cpu.py'), '--threads', '2', ...flag]);
} else {
  console.log('\n(PyTorch CPU skipped: /usr/bin/python3 cannot import torch, or --no-torch)');
}
const loadAfter = uptime();

write({ startedAt: startedAt.toISOString(), quick, lpNumThreads: process.env.LP_NUM_THREADS ?? null, loadBefore, loadAfter, ours, tfjs, torch });
