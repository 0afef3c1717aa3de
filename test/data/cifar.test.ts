import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCifar10, loadCifar100, parseCifarRecords } from '../../src/data/cifar.js';
import { classCounts } from '../../src/data/dataset.js';
import { DatasetError } from '../../src/data/errors.js';
import { CIFAR10_DIR, HAVE_CIFAR10 } from './paths.js';

function fakeRecords(n: number, labelBytes: 1 | 2): Uint8Array {
  const rec = labelBytes + 3072;
  const bytes = new Uint8Array(n * rec);
  for (let i = 0; i < n; i++) {
    bytes[i * rec] = i % 20; // coarse (or the only) label
    if (labelBytes === 2) bytes[i * rec + 1] = (i * 7) % 100; // fine label
    for (let j = 0; j < 3072; j++) bytes[i * rec + labelBytes + j] = (i + j) & 0xff;
  }
  return bytes;
}

describe('CIFAR binary format', () => {
  it('parses records: label byte(s) then planar RGB', () => {
    const bytes = fakeRecords(3, 1);
    bytes[0] = 7;
    const { images, labels } = parseCifarRecords(bytes, { labelBytes: 1, labelIndex: 0 });
    expect(Array.from(labels)).toEqual([7, 1, 2]);
    expect(images.length).toBe(3 * 3072);
    expect(images[3072 + 5]).toBe((1 + 5) & 0xff);
  });

  it('rejects a file that is not a whole number of records, naming the sizes', () => {
    expect(() => parseCifarRecords(new Uint8Array(3073 * 2 + 5), { labelBytes: 1, labelIndex: 0 }, 'x.bin')).toThrow(/x\.bin has 6151 bytes, not a multiple of the 3073-byte record/);
    expect(() => parseCifarRecords(new Uint8Array(3073 * 2 + 5), { labelBytes: 1, labelIndex: 0 })).toThrow(DatasetError);
  });

  it('reads CIFAR-100 fine and coarse labels and reports non-standard counts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-c100-'));
    writeFileSync(join(dir, 'train.bin'), fakeRecords(30, 2));
    writeFileSync(join(dir, 'test.bin'), fakeRecords(5, 2));
    const fine = await loadCifar100({ dataDir: dir });
    const coarse = await loadCifar100({ dataDir: dir, split: 'test', labels: 'coarse' });
    expect(fine.length).toBe(30);
    expect(fine.labels[3]).toBe(21);
    expect(fine.classes.length).toBe(100);
    expect(coarse.labels[3]).toBe(3);
    expect(coarse.classes.length).toBe(20);
    expect(fine.notes.join()).toMatch(/30 train records \(the standard set has 50000\)/);
  });

  it('says clearly when --data-dir holds no CIFAR files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wg-empty-'));
    await expect(loadCifar10({ dataDir: dir })).rejects.toThrow(/no CIFAR-10 train files/);
  });

  it.skipIf(!HAVE_CIFAR10)('reads the dev subset ../shared/data/cifar10 (4000 train / 1000 test)', async () => {
    const train = await loadCifar10({ dataDir: CIFAR10_DIR });
    const test = await loadCifar10({ dataDir: CIFAR10_DIR, split: 'test' });
    expect(train.length).toBe(4000);
    expect(test.length).toBe(1000);
    expect(train.classes).toEqual(['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck']);
    expect(classCounts(train).reduce((a, b) => a + b)).toBe(4000);
    expect(train.notes.join(' ')).toMatch(/data_batch_2\.bin.*not found/);
    expect(train.notes.join(' ')).toMatch(/4000 train records/);
    // Record 0 of the official data_batch_1 is a frog (label 6); of test_batch a cat (3).
    expect(train.labels[0]).toBe(6);
    expect(test.labels[0]).toBe(3);
  });
});
