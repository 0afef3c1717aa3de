#!/bin/bash
# The one prepared run on a lent GPU machine (no network, maybe no Node): see bench/RESULTS.md.
# Prepare here:
#   npm run build && ../shared/tools/device-pack.sh
#   (cd .devpack && apt-get download libglvnd0 libgl1 libglx0 libegl1 libopengl0 libgles2)
#     ^ NVIDIA's Vulkan ICD is loaded through libGLX_nvidia, which needs glvnd; libvulkan1 alone fails
# Carry: .devpack dist node_modules/webgpu/{index.js,package.json,dist/linux-x64}. Logs go to $OUT.
for f in .devpack/*.deb; do dpkg -x "$f" /; done
ldconfig
. .devpack/unpack.sh
export XDG_RUNTIME_DIR=/tmp
OUT=${OUT:-/tmp/gpu-run}
mkdir -p "$OUT"
run() { local t=$1; shift; echo "+ $*"; timeout "$t" "$@"; }
run 45 node dist/bench/gemm.js --sizes 1024,2048,4096 2>&1 | tee "$OUT/gemm.txt"
run 90 node dist/bench/models.js --train50 --json "$OUT/models.json" 2>&1 | tee "$OUT/models.txt"
# The same with wg.autotune first: which kernels the GPU prefers, and what they gain there.
run 150 node dist/bench/models.js --train50 --autotune --json "$OUT/models-tuned.json" 2>&1 | tee "$OUT/models-tuned.txt"
run 75 python3 bench/peers/torch_cuda.py --quick --json "$OUT/torch.json" 2>&1 | tee "$OUT/torch.txt"
