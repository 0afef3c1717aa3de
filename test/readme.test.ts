// The README's "API at a glance" block is real code: run it against the library.
import { it, expect } from 'vitest';
import { readFileSync, mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wg from '../src/index.js';

it('the README API example runs as written', async () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const block = /## The API at a glance\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block, 'README has an API block').toBeDefined();
  const dir = mkdtempSync(join(tmpdir(), 'wgslgrad-readme-'));
  const body = block!
    .replace(/^import \* as wg from 'wgslgrad';\n/m, '')
    .replace("'resnet20.safetensors'", JSON.stringify(join(dir, 'resnet20.safetensors')))
    .replace(/console\.log\(/g, 'void (');
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  await new AsyncFunction('wg', body)(wg);
  expect(existsSync(join(dir, 'resnet20.safetensors'))).toBe(true);
});
