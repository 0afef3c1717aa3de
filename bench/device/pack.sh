#!/bin/bash
# Fill .devdist/ (git-ignored) with what a run on the GPU machine executes, small enough to carry
# (the limit is 64 MiB with .devpack's Node): the CLI and bench bundles of this build in
# .devdist/new/ (and of a baseline build in .devdist/base/, when its dist/ folder is given), no
# source maps, and the runtime packages they import (Dawn's dawn.node for linux-x64 only).
# Usage, from the project root after `npm run build`:  bench/device/pack.sh [baseline/dist]
# Carry [".devpack", ".devdist"]; bench/device/gpu-run.sh says how the run starts.
set -euo pipefail
out=.devdist
grep -qxF "/$out/" .git/info/exclude 2>/dev/null || echo "/$out/" >> .git/info/exclude
rm -rf "$out" && mkdir -p "$out/node_modules/webgpu/dist"
copy_build() { # $1 = a dist folder, $2 = where it goes
  mkdir -p "$2/bench"
  cp "$1/cli.js" "$2/"
  for b in gemm models conv ceiling optim norm-pool; do cp "$1/bench/$b.js" "$2/bench/"; done
}
copy_build dist "$out/new"
[ $# -ge 1 ] && copy_build "$1" "$out/base"
cp node_modules/webgpu/{index.js,package.json} "$out/node_modules/webgpu/"
cp -r node_modules/webgpu/dist/linux-x64 "$out/node_modules/webgpu/dist/"
# dawn.node (~21 MB) travels compressed, leaving room in the 64 MiB for data (.devdata/);
# gpu-run.sh unpacks it.
xz -T2 -6 "$out/node_modules/webgpu/dist/linux-x64/dawn.node"
for p in commander cli-progress string-width strip-ansi ansi-regex emoji-regex is-fullwidth-code-point; do
  cp -r "node_modules/$p" "$out/node_modules/"
done
du -sh "$out" .devpack
