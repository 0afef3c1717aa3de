// Where the dev data sets live: ../shared/data/ beside the repository (see the task brief).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CIFAR10_DIR = fileURLToPath(new URL('../../../shared/data/cifar10/', import.meta.url));
export const HAVE_CIFAR10 = existsSync(`${CIFAR10_DIR}data_batch_1.bin`) && existsSync(`${CIFAR10_DIR}test_batch.bin`);
if (!HAVE_CIFAR10) {
  console.warn(`skipping CIFAR-10 tests: the dev subset ../shared/data/cifar10/ (data_batch_1.bin, test_batch.bin) is absent at ${CIFAR10_DIR}`);
}
