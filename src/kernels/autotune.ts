// SPDX-License-Identifier: MIT
// wg.autotune(fn): for every problem `fn` poses that more than one kernel can solve (each
// convolution pass of each layer shape, each matrix product of a shape and operand layout), time
// the kernels on this device and remember the fastest; later calls of the same problem run it.
//
// Why. The launchers pick kernels by rules (src/kernels/conv2d.ts: the row kernels for 3x3
// layers, GEMMs for 1x1 layers, ...) measured on lavapipe, the CPU adapter this project is
// developed on. A real GPU has other strengths, and a rule can only guess for a shape nobody
// measured. Measuring costs seconds, once per shape, so it is opt-in:
//
//   await wg.autotune(() => F.crossEntropy(model.forward(x), y).backward());   // like wg.warmup
//   fs.writeFileSync('tune.json', JSON.stringify(wg.autotuneCache()));          // keep it
//   wg.setAutotuneCache(JSON.parse(fs.readFileSync('tune.json', 'utf8')));     // next run
//
// How. `fn` runs once in record-only mode (as wg.warmup: nothing is dispatched, shapes flow), and
// every launcher with a choice describes its problem to offerTunable(): a key, the kernels that
// apply (in the rule's order), how to make inputs of its shapes and how to run one kernel. Then,
// problem by problem: random inputs, each kernel's pipelines built (warmup), one untimed run, and
// the fastest of five timed runs of enough calls to fill TRIAL_MS, the kernels taking turns (wall
// time: on a CPU adapter that is the work itself; on a GPU it covers the submit and wait,
// amortised over the calls).
// The choice is kept per adapter; `autotuneCache()` exports it as JSON.

import { warmup } from './warmup.js';
import { sync } from '../tensor/queue.js';
import { gpu } from '../tensor/device.js';
import { Tensor } from '../tensor/tensor.js';
import { OpArgumentError } from '../tensor/errors.js';

/** A problem more than one kernel can solve, as a launcher describes it. */
export interface TunableProblem {
  /** What the choice is kept under, readable: e.g. "conv2d forward x 8,64,56,56 w 64,64,3,3 s 1,1 ...". */
  key: string;
  /** The kernels that apply, in the order the rules prefer them (the first is the default). */
  candidates: string[];
  /** Inputs of the problem's shapes, random values. */
  makeInputs(): Tensor[];
  /** Compute the problem with one kernel; the caller disposes the result. */
  run(candidate: string, inputs: Tensor[]): Tensor;
}

/** What autotune() measured for one problem. */
export interface AutotuneResult {
  key: string;
  /** Milliseconds per call of each kernel timed (wall time, the fastest of five runs). */
  ms: Record<string, number>;
  /** What later calls run: the fastest, unless within 10% of the rules' choice (then that). */
  chosen: string;
  /** What the rules would have run. */
  rule: string;
}

/** The measured choices, serialisable (JSON): valid for the adapter they were made on. */
export interface AutotuneCache {
  adapter: string;
  choices: Record<string, string>;
}

/** Each timed run lasts about this long (more calls of a short kernel). */
const TRIAL_MS = 20;
/**
 * Timed runs per kernel; the fastest counts. Interference (other processes, a host that drifts)
 * only ever adds time, so the minimum is the steadiest estimate: with the median of three, 1x1
 * layers at batch 1 on lavapipe were handed to kernels that measured 1.2-2x slower by CPU time.
 */
const TRIALS = 5;
/** Another kernel replaces the rules' choice only if it is this much faster (timing noise). */
const MARGIN = 0.1;
/**
 * A candidate this many times slower than the quickest on its first run is not timed further
 * (the GPU-shaped kernels on lavapipe: trials of them only made tuning slow).
 */
const SLOW_FACTOR = 4;

let choices = new Map<string, string>();
let choicesAdapter = '';
/** The problems of the record-only pass in progress, or null. */
let collecting: Map<string, TunableProblem> | null = null;

function adapterName(): string {
  const info = gpu().info;
  return [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ');
}

/** The measured choice for this problem on this adapter, if any. */
export function tunedChoice(key: string): string | undefined {
  if (choices.size === 0 || choicesAdapter !== adapterName()) return undefined;
  return choices.get(key);
}

/** Launchers call this with every problem that has more than one kernel (cheap when not tuning). */
export function offerTunable(problem: TunableProblem): void {
  if (collecting && problem.candidates.length > 1 && !collecting.has(problem.key)) collecting.set(problem.key, problem);
}

/** Whether an autotune() record pass is collecting problems (launchers skip describing them otherwise). */
export function isCollectingTunables(): boolean {
  return collecting !== null;
}

/**
 * Time the kernels of every problem `fn` poses that is not yet tuned, and keep the fastest.
 * `fn` is run in record-only mode, as by wg.warmup (see there for what that means for it).
 * Resolves to what was measured, one entry per problem.
 */
export async function autotune(fn: () => unknown): Promise<AutotuneResult[]> {
  if (collecting) throw new OpArgumentError('autotune: already tuning (autotune() calls do not nest)');
  const problems = new Map<string, TunableProblem>();
  collecting = problems;
  try {
    await warmup(fn);
  } finally {
    collecting = null;
  }
  const adapter = adapterName();
  if (choicesAdapter !== adapter) {
    choices = new Map();
    choicesAdapter = adapter;
  }
  const results: AutotuneResult[] = [];
  for (const problem of problems.values()) {
    if (choices.has(problem.key)) continue;
    const inputs = problem.makeInputs();
    try {
      const ms = await timeCandidates(problem, inputs);
      const rule = problem.candidates[0];
      const fastest = problem.candidates.reduce((best, name) => (ms[name] < ms[best] ? name : best));
      const chosen = ms[fastest] < (1 - MARGIN) * ms[rule] ? fastest : rule;
      choices.set(problem.key, chosen);
      results.push({ key: problem.key, ms, chosen, rule });
    } finally {
      for (const t of inputs) t.dispose();
    }
  }
  return results;
}

/**
 * Milliseconds per call of each candidate: the fastest of TRIALS timed runs, the candidates taking
 * turns run by run, so that a machine whose speed drifts (lavapipe on shared cores) slows them
 * alike.
 */
async function timeCandidates(problem: TunableProblem, inputs: Tensor[]): Promise<Record<string, number>> {
  const runs = new Map<string, () => void>();
  const calls = new Map<string, number>();
  const firstRun = new Map<string, number>();
  for (const name of problem.candidates) {
    const runOnce = () => problem.run(name, inputs).dispose();
    await warmup(runOnce); // its pipelines, built in parallel
    runOnce(); // first use: caches, buffer pool
    await sync();
    const t0 = performance.now();
    runOnce();
    await sync();
    const once = Math.max(performance.now() - t0, 1e-3);
    firstRun.set(name, once);
    runs.set(name, runOnce);
  }
  // A candidate whose first run took over SLOW_FACTOR times the quickest one's is out of the race
  // (its one run is its time): the trials are for candidates that are close. It is run once more
  // before it is ruled out: on an H100 single runs of 0.05 ms kernels now and then took 1-20 ms
  // (a stall in the wait, not the kernel), and ruled the rules' choice out for 4 of 158 problems.
  const quickest = Math.min(...firstRun.values());
  for (const name of problem.candidates) {
    if (firstRun.get(name)! <= SLOW_FACTOR * quickest) continue;
    const t0 = performance.now();
    runs.get(name)!();
    await sync();
    firstRun.set(name, Math.min(firstRun.get(name)!, Math.max(performance.now() - t0, 1e-3)));
  }
  for (const [name, once] of firstRun) calls.set(name, Math.max(1, Math.min(100, Math.round(TRIAL_MS / once))));
  const close = problem.candidates.filter((name) => firstRun.get(name)! <= SLOW_FACTOR * quickest);
  const times = new Map<string, number[]>(problem.candidates.map((name) => [name, close.includes(name) ? [] : [firstRun.get(name)!]]));
  for (let trial = 0; trial < TRIALS; trial++) {
    for (const name of close) {
      const n = calls.get(name)!;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) runs.get(name)!();
      await sync();
      times.get(name)!.push((performance.now() - t0) / n);
    }
  }
  return Object.fromEntries([...times].map(([name, xs]) => [name, Math.min(...xs)]));
}

/** The choices made on this adapter so far, for JSON.stringify. */
export function autotuneCache(): AutotuneCache {
  return { adapter: choicesAdapter || adapterName(), choices: Object.fromEntries(choices) };
}

/**
 * Use choices measured before (autotuneCache() of an earlier run). They must come from this
 * adapter: a choice measured on another device says nothing about this one. `null` forgets all
 * choices (the rules decide again).
 */
export function setAutotuneCache(cache: AutotuneCache | null): void {
  if (cache === null) {
    choices = new Map();
    choicesAdapter = '';
    return;
  }
  const ok = cache && typeof cache === 'object' && typeof cache.adapter === 'string' && cache.choices && typeof cache.choices === 'object' &&
    Object.values(cache.choices).every((v) => typeof v === 'string');
  if (!ok) throw new OpArgumentError('setAutotuneCache: expected { adapter: string, choices: { [key]: kernel name } } as made by autotuneCache()');
  const adapter = adapterName();
  if (cache.adapter !== adapter) {
    throw new OpArgumentError(`setAutotuneCache: the choices were measured on '${cache.adapter}', this device is '${adapter}'`);
  }
  choices = new Map(Object.entries(cache.choices));
  choicesAdapter = adapter;
}
