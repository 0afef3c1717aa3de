#!/bin/bash
# The prepared runs on a lent GPU machine (no network, maybe no Node); results: bench/RESULTS.md.
# Prepare here, from the project root:
#   npm run build && ../shared/tools/device-pack.sh && bench/device/pack.sh [baseline/dist]
#   (cd .devpack && apt-get download libglvnd0 libgl1 libglx0 libegl1 libopengl0 libgles2)
#     ^ NVIDIA's Vulkan ICD is loaded through libGLX_nvidia, which needs glvnd; libvulkan1 alone fails
# Carry [".devpack", ".devdist"]; run `bash bench/device/gpu-run.sh probe|full`. Logs go to $OUT.
#   probe: where a step's time goes on this GPU (per-kernel GPU timestamps, before and after
#          wg.autotune), and the GEMM against the device's FMA ceiling.
#   full:  the whole-model bench of this build (and of the baseline build, when packed), with and
#          without autotuning, per-kernel profiles, conv layers, GEMM, and PyTorch CUDA on the same
#          workloads.
#   models: the same without GEMM and PyTorch (a rerun after a change).
#   compare: this build against the baseline build (the same bench script in both), PyTorch CUDA,
#          submitting every 64 dispatches against the ramp, profiles, the autotuned build, GEMM.
#   train: the CIFAR ResNet-20 recipe through the trainer on the 4,000-image subset (.devdata).
#   final: this build and PyTorch CUDA in two alternating rounds, and a ResNet-20 profile.
#   fused: the fused optimizers (session 8): the optimizer bench, ResNet-20 training fused /
#          unfused / the baseline build in two alternating rounds, the whole-model rows, PyTorch
#          CUDA, and a ResNet-20 profile.
#   hostprof: why the fused optimizer's ResNet-20 step recorded slower on the H100: fused,
#          unfused, fused without in-place gradients (--no-into) and the baseline build
#          alternating, a CPU profile of the host for each (bench/device/cpuprof.py), then the
#          whole-model rows and PyTorch CUDA.
#   pinned: ResNet-20 training, this build fused and unfused and the baseline build, in two
#          alternating rounds with the process pinned to cores 2-5 (taskset: a process's host
#          cost per dispatch was either ~21 or ~33 µs, by lease and by process), then the trainer
#          as in 'train'.
#   wide:  the 128 x 128-tile implicit GEMM (an autotune candidate): every candidate of every
#          conv problem timed (tune.json) with the tuned model rows, then the default rows;
#          wide50 the same for ResNet-50 only.
#   tune:  evidence for the GPU rules: every candidate kernel of every conv problem timed
#          (tune.json), the host's recording time per step, a CPU profile of ResNet-50 batch-1
#          inference (prof/), and the optimizer bench.
#   ab:    this build against the packed baseline build, pinned to cores 2-5: ResNet-50 training
#          at batch 32 in three alternating rounds, ResNet-20 training in two, then a per-kernel
#          profile of each build's ResNet-50 step (session 9: 1x1 stride-2 input gradients on the
#          implicit GEMM, the shortcut's gradient added as dx is stored); rules: the same without
#          the ResNet-20 rounds (session 9: the wide-tile rules, the baseline packed without them).
#   tuned50: ResNet-50 (inference batch 1, training batch 32) after wg.autotune, with the kernel
#          choices it changed.
#   s10:   session 10 (batch norm's backward in two passes, one dispatch fewer per layer): the
#          batch-norm checks of norm-pool.js against the float64 reference on this GPU, ResNet-20
#          training (host-bound here, where dispatches count) in three alternating rounds and
#          ResNet-50 training in two against the packed baseline build, pinned to cores 2-5, then
#          every model row and PyTorch CUDA once, and a ResNet-20 profile.
phase=${1:-full}
for f in .devpack/*.deb; do dpkg -x "$f" /; done
ldconfig
. .devpack/unpack.sh
for f in .devdist/node_modules/webgpu/dist/linux-x64/*.xz; do [ -f "$f" ] && xz -d "$f"; done
export XDG_RUNTIME_DIR=/tmp
OUT=${OUT:-/tmp/gpu-run}
mkdir -p "$OUT"
root=$(pwd)
run() { local t=$1 log=$2; shift 2; echo "+ $*" | tee -a "$OUT/$log"; timeout "$t" "$@" 2>&1 | tee -a "$OUT/$log"; }
cd .devdist/new
if [ "$phase" = compare ]; then
  # Two alternating rounds of this build with and without the ramped batches (queue.ts).
  run 120 models.txt node bench/models.js --train50
  run 120 models-batch.txt node bench/models.js --train50 --batch-limit 64
  [ -d ../base ] && (cd ../base && run 120 models-base.txt node bench/models.js --train50)
  (cd "$root" && run 90 torch.txt python3 bench/peers/torch_cuda.py --quick)
  run 120 models.txt node bench/models.js --train50
  run 120 models-batch.txt node bench/models.js --train50 --batch-limit 64
  run 40 profile.txt node cli.js profile -m resnet20 -b 128 --by-kernel
  run 30 profile.txt node cli.js profile -m resnet50 -b 1 --inference --by-kernel
  run 150 models-tuned.txt node bench/models.js --train50 --autotune
  run 45 gemm.txt node bench/gemm.js --sizes 1024,2048,4096
  exit 0
fi
if [ "$phase" = fused ]; then
  run 90 optim.txt node bench/optim.js
  for round in 1 2; do
    run 60 r20.txt node bench/models.js --only r20
    run 60 r20.txt node bench/models.js --only r20 --unfused
    [ -d ../base ] && (cd ../base && run 60 r20-base.txt node bench/models.js --only r20)
  done
  run 150 models.txt node bench/models.js --train50
  (cd "$root" && run 90 torch.txt python3 bench/peers/torch_cuda.py --quick)
  run 40 profile.txt node cli.js profile -m resnet20 -b 128 --by-kernel
  exit 0
fi
if [ "$phase" = hostprof ]; then
  for round in 1 2; do
    run 60 r20.txt node bench/models.js --only r20
    run 60 r20.txt node bench/models.js --only r20 --unfused
    run 60 r20.txt node bench/models.js --only r20 --no-into
    [ -d ../base ] && (cd ../base && run 60 r20-base.txt node bench/models.js --only r20)
  done
  for v in fused unfused no-into; do
    flags=$([ $v = fused ] && echo "" || echo "--$v")
    run 60 r20-prof.txt node --cpu-prof --cpu-prof-dir=/tmp/prof-$v bench/models.js --only r20 --reps 200 $flags
    python3 "$root/bench/device/cpuprof.py" /tmp/prof-$v/*.cpuprofile 45 40 > "$OUT/cpuprof-$v.txt"
  done
  run 150 models.txt node bench/models.js --train50
  (cd "$root" && run 90 torch.txt python3 bench/peers/torch_cuda.py --quick)
  exit 0
fi
if [ "$phase" = wide50 ]; then
  run 100 models-tuned.txt node bench/models.js --only r50 --train50 --autotune --tune-json "$OUT/tune.json"
  exit 0
fi
if [ "$phase" = wide ]; then
  run 200 models-tuned.txt node bench/models.js --train50 --autotune --tune-json "$OUT/tune.json"
  run 80 models.txt node bench/models.js --only r50 --train50
  exit 0
fi
if [ "$phase" = ab ] || [ "$phase" = rules ]; then
  pin=$(command -v taskset >/dev/null && echo "taskset -c 2-5" || echo "")
  for round in 1 2 3; do
    run 90 r50.txt $pin node bench/models.js --only r50 --train50
    [ -d ../base ] && (cd ../base && run 90 r50-base.txt $pin node bench/models.js --only r50 --train50)
  done
  [ "$phase" = ab ] && for round in 1 2; do
    run 60 r20.txt $pin node bench/models.js --only r20
    [ -d ../base ] && (cd ../base && run 60 r20-base.txt $pin node bench/models.js --only r20)
  done
  run 60 profile.txt $pin node cli.js profile -m resnet50 -b 32 --by-kernel
  [ -d ../base ] && (cd ../base && run 60 profile-base.txt $pin node cli.js profile -m resnet50 -b 32 --by-kernel)
  exit 0
fi
if [ "$phase" = s10 ]; then
  pin=$(command -v taskset >/dev/null && echo "taskset -c 2-5" || echo "")
  run 60 check.txt node bench/norm-pool.js 'batchNorm backward'
  for round in 1 2 3; do
    run 45 r20.txt $pin node bench/models.js --only r20
    [ -d ../base ] && (cd ../base && run 45 r20-base.txt $pin node bench/models.js --only r20)
  done
  for round in 1 2; do
    run 60 r50.txt $pin node bench/models.js --only r50 --train50
    [ -d ../base ] && (cd ../base && run 60 r50-base.txt $pin node bench/models.js --only r50 --train50)
  done
  run 120 models.txt $pin node bench/models.js --train50
  (cd "$root" && run 60 torch.txt python3 bench/peers/torch_cuda.py --quick)
  run 40 profile.txt $pin node cli.js profile -m resnet20 -b 128 --by-kernel
  exit 0
fi
if [ "$phase" = tuned50 ]; then
  pin=$(command -v taskset >/dev/null && echo "taskset -c 2-5" || echo "")
  run 200 r50-tuned.txt $pin node bench/models.js --only r50 --train50 --autotune
  exit 0
fi
if [ "$phase" = pinned ]; then
  pin=$(command -v taskset >/dev/null && echo "taskset -c 2-5" || echo "")
  for round in 1 2; do
    run 60 r20.txt $pin node bench/models.js --only r20
    run 60 r20.txt $pin node bench/models.js --only r20 --unfused
    [ -d ../base ] && (cd ../base && run 60 r20-base.txt $pin node bench/models.js --only r20)
  done
  phase=train
fi
if [ "$phase" = train ]; then
  # He et al.'s CIFAR recipe (164 epochs, multistep at 82 and 123, lr 0.1, momentum 0.9, weight
  # decay 1e-4, batch 128, option A) through the trainer CLI, on the lossless 4,000-image subset
  # carried in .devdata/cifar10 (../shared/data/cifar10 copied there): the trainer's throughput
  # end to end (data, augmentation, evaluation, checkpoints) on this GPU.
  run 200 train.txt node cli.js train --model resnet20 --dataset cifar10 --data-dir "$root/.devdata/cifar10" \
    --epochs 164 --batch-size 128 --lr 0.1 --momentum 0.9 --weight-decay 1e-4 --schedule multistep \
    --shortcut A --seed 1 --out "$OUT/r20" --no-progress
  rm -f "$OUT/r20/checkpoint.safetensors" "$OUT/r20/final.safetensors" # at most 8 files come back
  exit 0
fi
if [ "$phase" = final ]; then
  # This build and PyTorch CUDA, two alternating rounds (their host-bound rows move between runs).
  for round in 1 2; do
    run 120 models.txt node bench/models.js --train50
    (cd "$root" && run 90 torch.txt python3 bench/peers/torch_cuda.py --quick)
  done
  run 40 profile.txt node cli.js profile -m resnet20 -b 128 --by-kernel
  exit 0
fi
if [ "$phase" = tune ]; then
  run 240 models.txt node bench/models.js --train50 --autotune --tune-json "$OUT/tune.json"
  run 90 models.txt node bench/models.js --train50
  run 60 optim.txt node bench/optim.js
  run 60 host.txt node --cpu-prof --cpu-prof-dir="$OUT/prof" bench/models.js --only r50 --reps 300
  exit 0
fi
if [ "$phase" = probe ]; then
  run 40 gemm.txt node bench/gemm.js --sizes 1024,2048,4096
  run 45 profile.txt node cli.js profile -m resnet50 -b 32 --by-kernel
  run 30 profile.txt node cli.js profile -m resnet50 -b 1 --inference --by-kernel
  run 75 profile.txt node cli.js profile -m resnet50 -b 32 --by-kernel --autotune
  exit 0
fi
# In order of importance, so that a run cut short by its time limit keeps the headline rows.
# (Logs only: at most 8 files come back from a run.)
run 100 models.txt node bench/models.js --train50
run 150 models.txt node bench/models.js --train50 --autotune
[ "$phase" = full ] && (cd "$root" && run 75 torch.txt python3 bench/peers/torch_cuda.py --quick)
if [ -d ../base ]; then
  (cd ../base && run 100 models-base.txt node bench/models.js --train50)
fi
# Submitting every 64 dispatches (the GPU default) against every 512 (before): ResNet-50 rows.
run 60 models-batch.txt node bench/models.js --only r50 --train50 --batch-limit 512
run 60 models-batch.txt node bench/models.js --only r50 --train50 --batch-limit 64
run 45 profile.txt node cli.js profile -m resnet50 -b 32 --by-kernel
run 75 profile.txt node cli.js profile -m resnet50 -b 32 --by-kernel --autotune
run 30 profile.txt node cli.js profile -m resnet50 -b 1 --inference --by-kernel
run 90 conv.txt node bench/conv.js
[ "$phase" = models ] && exit 0
run 60 gemm.txt node bench/gemm.js --sizes 1024,2048,4096
