// SPDX-License-Identifier: MIT
// Transfer learning with wgslgrad: load pretrained ResNet-18 weights from a safetensors file,
// replace the classifier, freeze the backbone except its last stage, and fine-tune on a small
// synthetic task for a few steps.
//
//   npx vite-node -c vitest.config.ts examples/transfer-learning.ts [resnet18.safetensors]
//
// The weights file is torchvision's resnet18 state dict in safetensors form, e.g. made with
//   python -c "import torch, torchvision; from safetensors.torch import save_file;
//              save_file(torchvision.models.resnet18(weights='DEFAULT').state_dict(), 'resnet18.safetensors')"
// Without one, the example writes a freshly initialised resnet18 to a temporary file and uses
// that in its place, so the whole flow (save, load, swap the head, freeze, fine-tune) runs offline.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wg from '../src/index.js';

const CLASSES = 4; // the synthetic task: which colour dominates the image
const BATCH = 16;
const SIZE = 64; // image side; ResNet-18 reduces it 32x, to 2x2, before the global pool
const STEPS = 8;

/** A batch of noisy images whose label is the dominant colour: red, green, blue or grey. */
function syntheticBatch(seed: number): { x: wg.Tensor; y: wg.Tensor } {
  let s = seed * 7919 + 1;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const pixels = SIZE * SIZE;
  const x = new Float32Array(BATCH * 3 * pixels);
  const y = new Int32Array(BATCH);
  for (let n = 0; n < BATCH; n++) {
    const label = Math.floor(rand() * CLASSES);
    y[n] = label;
    for (let c = 0; c < 3; c++) {
      const base = label === 3 ? 0.3 : c === label ? 0.8 : -0.6;
      for (let p = 0; p < pixels; p++) x[(n * 3 + c) * pixels + p] = base + 0.8 * (rand() - 0.5);
    }
  }
  return { x: wg.tensor(x, [BATCH, 3, SIZE, SIZE]), y: wg.tensor(y) };
}

async function standInWeights(dir: string): Promise<string> {
  const path = join(dir, 'resnet18-stand-in.safetensors');
  const model = wg.models.resnet18();
  await wg.io.saveSafetensors(model.stateDict(), path);
  model.dispose();
  console.log(`no weights file given: wrote a freshly initialised resnet18 to ${path} as a stand-in`);
  return path;
}

async function main(): Promise<void> {
  const info = await wg.init();
  console.log(`device: ${JSON.stringify(info)}`);
  const dir = mkdtempSync(join(tmpdir(), 'wgslgrad-transfer-'));
  try {
    wg.manualSeed(0);
    const weightsPath = process.argv[2] ?? (await standInWeights(dir));

    // 1. The pretrained network, exactly as torchvision builds it (1000 ImageNet classes).
    const model = wg.models.resnet18();
    const weights = await wg.io.loadSafetensors(weightsPath);
    model.loadStateDict(weights); // strict: every key and shape must match
    for (const t of weights.values()) t.dispose();

    // 2. A new head for our task. Assigning the attribute re-registers it as `fc`.
    const oldHead = model.fc;
    model.fc = new wg.nn.Linear(512, CLASSES);
    oldHead.dispose();

    // 3. Freeze the backbone, then unfreeze its last stage and the new head.
    model.requiresGrad_(false);
    model.layer4.requiresGrad_(true);
    model.fc.requiresGrad_(true);
    // BatchNorm layers keep their pretrained statistics too ("frozen BN", usual for small
    // fine-tuning batches): evaluation mode everywhere, gradients still flow through layer4.
    model.eval();
    const trainable = model.parameters().filter((p) => p.requiresGrad);
    console.log(`parameters: ${model.numParameters().toLocaleString()} total, ${model.numParameters({ trainableOnly: true }).toLocaleString()} trainable`);

    // 4. Fine-tune.
    const opt = new wg.optim.SGD(trainable, { lr: 0.02, momentum: 0.9, weightDecay: 1e-4 });
    for (let step = 0; step < STEPS; step++) {
      const { x, y } = syntheticBatch(step);
      const t0 = performance.now();
      const loss = wg.scope(() => {
        opt.zeroGrad();
        const loss = wg.F.crossEntropy(model.forward(x), y);
        loss.backward();
        opt.step();
        return loss;
      });
      console.log(`step ${String(step + 1).padStart(2)}  loss ${(await loss.item()).toFixed(4)}  (${(performance.now() - t0).toFixed(0)} ms)`);
      for (const t of [x, y, loss]) t.dispose();
    }

    // 5. Evaluate on a batch the model has not seen.
    const { x, y } = syntheticBatch(1000);
    const predicted = wg.noGrad(() => wg.scope(() => model.forward(x).argmax(1)));
    const p = await predicted.data();
    const labels = await y.data();
    let correct = 0;
    for (let i = 0; i < BATCH; i++) if (p[i] === labels[i]) correct++;
    console.log(`held-out accuracy: ${correct}/${BATCH}`);
    for (const t of [x, y, predicted]) t.dispose();

    // 6. Save the fine-tuned weights (PyTorch can load them with safetensors.torch.load_file).
    const out = join(dir, 'resnet18-finetuned.safetensors');
    await wg.io.saveSafetensors(model.stateDict(), out);
    console.log(`saved ${out}`);
    opt.dispose();
    model.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await wg.close();
  }
}

await main();
