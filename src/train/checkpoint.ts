// SPDX-License-Identifier: MIT
// Checkpoints: everything needed to continue a run exactly, in ONE safetensors file written
// atomically (temporary file + rename, by io.saveSafetensors), so a crash or Ctrl-C mid-write
// leaves the previous checkpoint intact.
//
//   tensors:  model.<state-dict key>          the model's parameters and buffers (BN running stats)
//             optimizer.<param index>.<name>  optimizer state (momentum_buffer, exp_avg, ...)
//   __metadata__: { "format": "wgslgrad-checkpoint", "wgslgrad.checkpoint": "<JSON of CheckpointMeta>" }
//
// The JSON holds the optimizer's hyperparameter groups and step counts, the scheduler's state,
// the data loader's position (seed, epoch, batch), the GPU random generator's state, the
// metrics of the epoch in progress, and the run's configuration.

import { readFileSync } from 'node:fs';
import type { Tensor } from '../tensor/tensor.js';
import { saveSafetensors, loadSafetensors, parseSafetensorsHeader } from '../io/safetensors.js';
import type { OptimizerStateDict, SavedGroup } from '../nn/optim/optimizer.js';
import type { LoaderState } from '../data/loader.js';

export const CHECKPOINT_FORMAT = 'wgslgrad-checkpoint';
const META_KEY = 'wgslgrad.checkpoint';

/** Sums over the part of an epoch already trained (for an exact epoch summary after resume). */
export interface PartialEpoch {
  lossSum: number;
  correct: number;
  count: number;
  seconds: number;
}

export interface CheckpointMeta {
  version: 1;
  /** Optimizer steps taken so far. */
  step: number;
  loader: LoaderState;
  rng: { seed: number; offset: number };
  optimizer: { groups: SavedGroup[] };
  scheduler: Record<string, unknown> | null;
  partial: PartialEpoch;
  config: Record<string, unknown>;
  /** Why it was written: end of an epoch, or an interruption mid-epoch. */
  reason: 'epoch' | 'interrupted';
}

export interface Checkpoint {
  model: Map<string, Tensor>;
  optimizer: OptimizerStateDict;
  meta: CheckpointMeta;
  /** Free the loaded tensors (after loading them into the model and optimizer). */
  dispose(): void;
}

/** Write model + optimizer tensors and `meta` to `path` atomically. */
export async function saveCheckpoint(path: string, model: Map<string, Tensor>, optimizer: OptimizerStateDict, meta: Omit<CheckpointMeta, 'optimizer'>): Promise<void> {
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of model) tensors.set(`model.${k}`, t);
  for (const [k, t] of optimizer.state) tensors.set(`optimizer.${k}`, t);
  const full: CheckpointMeta = { ...meta, optimizer: { groups: optimizer.groups } };
  await saveSafetensors(tensors, path, { format: CHECKPOINT_FORMAT, [META_KEY]: JSON.stringify(full) });
}

/** Read a checkpoint written by saveCheckpoint (tensors go to the GPU). */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  const bytes = readFileSync(path);
  const header = parseSafetensorsHeader(bytes);
  if (header.metadata.format !== CHECKPOINT_FORMAT || !header.metadata[META_KEY]) {
    throw new Error(`${path} is not a wgslgrad checkpoint (its __metadata__ has no '${META_KEY}'); for plain weights use eval --weights`);
  }
  const meta = JSON.parse(header.metadata[META_KEY]) as CheckpointMeta;
  if (meta.version !== 1) throw new Error(`${path}: checkpoint version ${meta.version} is not supported (expected 1)`);
  const all = await loadSafetensors(bytes);
  const model = new Map<string, Tensor>();
  const state = new Map<string, Tensor>();
  for (const [k, t] of all) {
    if (k.startsWith('model.')) model.set(k.slice(6), t);
    else if (k.startsWith('optimizer.')) state.set(k.slice(10), t);
    else t.dispose();
  }
  return {
    model,
    optimizer: { state, groups: meta.optimizer.groups },
    meta,
    dispose() {
      for (const t of model.values()) t.dispose();
      for (const t of state.values()) t.dispose();
    },
  };
}
