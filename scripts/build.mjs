// Build: bundle the library, the CLI and the benchmarks with esbuild (WGSL files become string
// constants via the text loader), then emit type declarations with tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';

rmSync('dist', { recursive: true, force: true });
const common = {
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  sourcemap: true,
  loader: { '.wgsl': 'text' },
  // Dawn's Node bindings are loaded lazily and only when navigator.gpu is absent.
  external: ['webgpu', 'node:*'],
  logLevel: 'warning',
};
await build({ ...common, entryPoints: { index: 'src/index.ts' }, outdir: 'dist' });
const nodeOnly = { ...common, platform: 'node', packages: 'external', banner: { js: '#!/usr/bin/env node' } };
await build({ ...nodeOnly, entryPoints: { cli: 'bin/wgslgrad.ts' }, outdir: 'dist' });
const benches = readdirSync('bench').filter((f) => f.endsWith('.ts')).map((f) => `bench/${f}`);
if (benches.length) await build({ ...nodeOnly, banner: {}, entryPoints: benches, outdir: 'dist/bench' });
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
console.log('build: dist/index.js, dist/cli.js, dist/bench/*.js, dist/types');
