#!/usr/bin/env node
// Preflight: is there a WebGPU adapter? If not, and we may install (root with apt, as in CI and
// containers), install Mesa's software Vulkan driver (lavapipe) from bookworm-backports;
// otherwise print the exact commands. Exits non-zero when no adapter can be had.
//   node scripts/preflight.mjs [--quiet] [--no-install]
import { execSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const quiet = process.argv.includes('--quiet');
const noInstall = process.argv.includes('--no-install');
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const log = (...a) => { if (!quiet) console.log(...a); };

// Probe in a child process: a failed Vulkan init must not take this process down with it.
function probe() {
  const code = `
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const gpu = create([]);
    const a = await gpu.requestAdapter();
    if (!a) { console.log('NO_ADAPTER'); process.exit(3); }
    const i = a.info ?? {};
    console.log(JSON.stringify({ vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description }));
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env: process.env, timeout: 60_000 });
  return { ok: r.status === 0, out: (r.stdout || '').trim(), err: (r.stderr || '').trim() };
}

const INSTALL = [
  "echo 'deb http://deb.debian.org/debian bookworm-backports main' > /etc/apt/sources.list.d/wgslgrad-backports.list",
  'apt-get update',
  'DEBIAN_FRONTEND=noninteractive apt-get install -y -t bookworm-backports mesa-vulkan-drivers',
];

function isDebian12() {
  try {
    return /VERSION_CODENAME=bookworm/.test(readFileSync('/etc/os-release', 'utf8'));
  } catch {
    return false;
  }
}

function hasBackports() {
  try {
    return /bookworm-backports/.test(execSync('cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null', { encoding: 'utf8' }));
  } catch {
    return false;
  }
}

let result = probe();
if (result.ok) {
  log(`preflight: WebGPU adapter found: ${result.out}`);
  process.exit(0);
}
log('preflight: no WebGPU adapter found.');
const canInstall = !noInstall && process.platform === 'linux' && process.getuid?.() === 0 && existsSync('/usr/bin/apt-get') && isDebian12();
if (!canInstall) {
  console.error('preflight: install a WebGPU-capable driver. On Debian 12 without a GPU (as root):');
  for (const c of INSTALL) console.error(`  ${c}`);
  console.error('Other Linux: install Mesa >= 24 with the lavapipe Vulkan driver (package mesa-vulkan-drivers).');
  if (result.err) console.error(`(probe said: ${result.err.split('\n').slice(-3).join(' | ')})`);
  process.exit(1);
}
log('preflight: installing Mesa lavapipe (software Vulkan) from bookworm-backports ...');
const steps = hasBackports() ? INSTALL.slice(1) : INSTALL;
for (const cmd of steps) {
  log(`  $ ${cmd}`);
  execSync(cmd, { stdio: quiet ? 'ignore' : 'inherit', shell: '/bin/bash' });
}
result = probe();
if (!result.ok) {
  console.error(`preflight: still no adapter after installing Mesa: ${result.err || result.out}`);
  process.exit(1);
}
log(`preflight: WebGPU adapter found: ${result.out}`);
