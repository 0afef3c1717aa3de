// `wgslgrad profile`: one training step broken down per kernel label.
import { it, expect } from 'vitest';
import { useDevice } from '../helpers.js';
import { profileTrainingStep, formatStepProfile } from '../../src/train/profile-step.js';
import * as wg from '../../src/index.js';

useDevice();

it('profiles a ResNet-20 step: conv kernels present, counts per label, no leaks', async () => {
  const before = wg.memory().liveTensors;
  const p = await profileTrainingStep({ model: 'resnet20', batch: 2, imageSize: 8, numClasses: 10, steps: 1, warmMs: 0 });
  const labels = new Map(p.kernels.map((k) => [k.label, k]));
  expect(labels.get('conv2d_forward')?.count).toBe(19); // 19 convolutions in ResNet-20
  expect(labels.get('sgd_update')?.count).toBeGreaterThan(0);
  expect(p.kernels.every((k) => k.ms >= 0)).toBe(true);
  expect(p.kernels[0].ms).toBeGreaterThanOrEqual(p.kernels[p.kernels.length - 1].ms);
  expect(formatStepProfile(p)).toMatch(/resnet20 training step, batch 2/);
  expect(p.hostMs).toBeGreaterThan(0);
  expect(p.hostMs).toBeLessThanOrEqual(p.stepMs);
  expect(formatStepProfile(p)).toMatch(/host [\d.]+ ms per step to record its dispatches .*\nthe step is bound by the (host|GPU)/);
  expect(wg.memory().liveTensors).toBe(before);
});

it('profiles inference: forward kernels only, no backward or update, no leaks', async () => {
  const before = wg.memory().liveTensors;
  const p = await profileTrainingStep({ model: 'resnet20', batch: 2, imageSize: 8, numClasses: 10, steps: 1, warmMs: 0, inference: true });
  const labels = p.kernels.map((k) => k.label);
  expect(p.mode).toBe('inference');
  expect(p.kernels.find((k) => k.label === 'conv2d_forward')?.count).toBe(19);
  expect(labels.filter((l) => /backward|sgd/.test(l))).toEqual([]);
  expect(formatStepProfile(p)).toMatch(/resnet20 inference \(eval, no gradients\), batch 2/);
  expect(wg.memory().liveTensors).toBe(before);
});
