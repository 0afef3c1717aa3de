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
import { WgslgradError } from '../tensor/errors.js';

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

/** A checkpoint that cannot be used: unreadable, not a checkpoint, or with inconsistent metadata. */
export class CheckpointError extends WgslgradError {}

/** Name the file in an error from the safetensors reader (its messages only know the bytes). */
function inFile(path: string, err: unknown): Error {
  if (err instanceof WgslgradError) {
    err.message = `${path}: ${err.message}`;
    return err;
  }
  return new CheckpointError(`${path}: ${(err as Error).message}`);
}

/**
 * The metadata is JSON from the file: check every field resume() relies on, so a corrupt or
 * hand-edited checkpoint fails here with its name rather than as a TypeError mid-resume.
 */
function checkMeta(meta: unknown, path: string): asserts meta is CheckpointMeta {
  const bad = (what: string) => new CheckpointError(`${path}: corrupt checkpoint metadata: ${what}`);
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const count = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!isObject(meta)) throw bad('not a JSON object');
  if (meta.version !== 1) throw new CheckpointError(`${path}: checkpoint version ${JSON.stringify(meta.version)} is not supported (expected 1)`);
  if (!count(meta.step)) throw bad(`step ${JSON.stringify(meta.step)} is not a non-negative integer`);
  const { loader, rng, optimizer, partial } = meta;
  if (!isObject(loader) || !Number.isFinite(loader.seed) || !count(loader.epoch) || !count(loader.batch)) throw bad(`loader ${JSON.stringify(loader)} is not { seed, epoch, batch }`);
  if (!isObject(rng) || !count(rng.seed) || !count(rng.offset)) throw bad(`rng ${JSON.stringify(rng)} is not { seed, offset }`);
  if (!isObject(optimizer) || !Array.isArray(optimizer.groups) || !optimizer.groups.every(isObject)) throw bad('optimizer.groups is not a list of groups');
  if (meta.scheduler !== null && !isObject(meta.scheduler)) throw bad('scheduler is neither null nor an object');
  if (!isObject(partial) || !['lossSum', 'correct', 'count', 'seconds'].every((k) => typeof partial[k] === 'number')) throw bad('partial is not { lossSum, correct, count, seconds }');
  if (!isObject(meta.config)) throw bad('config is not an object');
}

/** Read a checkpoint written by saveCheckpoint (tensors go to the GPU). */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new CheckpointError(`cannot read checkpoint ${path}: ${(err as Error).message}`);
  }
  let header;
  try {
    header = parseSafetensorsHeader(bytes);
  } catch (err) {
    throw inFile(path, err);
  }
  if (header.metadata.format !== CHECKPOINT_FORMAT || !header.metadata[META_KEY]) {
    throw new CheckpointError(`${path} is not a wgslgrad checkpoint (its __metadata__ has no '${META_KEY}'); for plain weights use eval --weights`);
  }
  let meta: unknown;
  try {
    meta = JSON.parse(header.metadata[META_KEY]);
  } catch (err) {
    throw new CheckpointError(`${path}: corrupt checkpoint metadata: not valid JSON (${(err as Error).message})`);
  }
  checkMeta(meta, path);
  let all: Map<string, Tensor>;
  try {
    all = await loadSafetensors(bytes);
  } catch (err) {
    throw inFile(path, err);
  }
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
