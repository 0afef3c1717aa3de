// SPDX-License-Identifier: MIT
// wg.warmup(fn): build every pipeline `fn` will need, in parallel, before it first runs.
//
// Pipelines are otherwise created on first use, one after another, and on lavapipe each one is
// an LLVM compile: the first step of a ResNet would spend most of its time there. warmup runs
// `fn` once in record-only mode: ops validate and allocate their outputs as usual (so shapes
// flow through the whole model), but launch() dispatches nothing and only notes the pipelines
// that are missing; those are then built with createComputePipelineAsync all at once.
//
// Give it the forward + loss + backward of a step, WITHOUT optimizer.step() and without reading
// data back: nothing runs, so every tensor holds garbage; backward leaves .grad untouched, the
// RNG state is restored and everything fn created is disposed, but host-side state outside the
// kernels (an optimizer's or scheduler's step counter, say) would still advance. The optimizer's
// few update kernels are compiled by its first real step.

import { setRecordOnly, precompile, type Kernel, type Constants } from './launch.js';
import { getRngState, setRngState } from './random.js';
import { scope } from '../tensor/scope.js';

/** Compile the pipelines `fn` needs; resolves to how many were built. */
export async function warmup(fn: () => unknown): Promise<number> {
  const missing = new Map<Kernel, Map<string, Constants | undefined>>();
  const rng = getRngState();
  setRecordOnly(missing);
  try {
    scope(() => {
      fn(); // its results are garbage: dispose them with everything else
    });
  } finally {
    setRecordOnly(null);
    setRngState(rng);
  }
  const builds = [...missing].flatMap(([kernel, specs]) => [...specs.values()].map((constants) => precompile(kernel, constants)));
  await Promise.all(builds);
  return builds.length;
}
