#!/usr/bin/env bash
# The real-GPU proof, in one script (issue 19, item 6). From the repo root:
#   bash bench/gpu/prepare.sh        # once, on a machine with the repo's node_modules: makes bench/gpu/carry
#   bash bench/gpu/proof.sh          # on the GPU machine: bench/gpu as it is, then ResNet-9 on CIFAR-10
#   bash bench/gpu/proof.sh --smoke  # anywhere: the same path in seconds (software adapter, quarter-width ResNet-9, 1 epoch of 128 images)
# Prints (and writes to $OUT/gpu-proof.txt when OUT is set): bench/gpu's images/s and projections, the ResNet-9
# run's wall time, images/s and TTA test accuracy, and the PyTorch peer on the same card when torch is installed.
# Budget: bench/gpu gets KILN_GPU_BENCH_BUDGET_S (default 150 s here), the run the rest of a 10-minute slot.
# Data: KILN_CIFAR10_TARBALL, else ../shared/data/cifar10/cifar-10-binary.tar.gz beside the repo.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
smoke=0
[ "${1:-}" = "--smoke" ] && smoke=1
data="${KILN_CIFAR10_TARBALL:-$root/../shared/data/cifar10/cifar-10-binary.tar.gz}"
report_name=gpu-proof.txt
# shellcheck source=bench/gpu/report.sh
. "$root/bench/gpu/report.sh"
carry="$root/bench/gpu/carry"
# The carried Node (bench/gpu/carry) on a bare machine; this machine's otherwise.
node=$(command -v node || true)
if [ -f "$carry/node.gz" ] && ! "${node:-false}" -e 'process.exit(+process.versions.node.split(".")[0] >= 22 ? 0 : 1)' 2>/dev/null; then
  node=$(mktemp -d)/node && gzip -dc "$carry/node.gz" >"$node" && chmod +x "$node"
fi
say "proof.sh: $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?'), node $("$node" --version)"
command -v nvidia-smi >/dev/null && say "proof.sh: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -1)"

# 1. bench/gpu as it is (Dawn for Node): skipped by --smoke, which has no GPU to measure.
if [ "$smoke" = 0 ]; then
  KILN_GPU_BENCH_BUDGET_S="${KILN_GPU_BENCH_BUDGET_S:-150}" KILN_GPU_BENCH_TIMEOUT_S="${KILN_GPU_BENCH_TIMEOUT_S:-200}" bash bench/gpu/run.sh
  say "proof.sh: bench/gpu exit $?"
fi

# 2. ResNet-9 on CIFAR-10, full recipe, on WebGPU: the bundle when carried (no node_modules there), else the sources.
if [ ! -f "$data" ]; then
  say "proof.sh: no CIFAR-10 tarball at $data (set KILN_CIFAR10_TARBALL)"
  exit 2
fi
# The Vulkan loader and NVIDIA manifest run.sh found are set up in its own shell; the same logic applies here.
if [ -f "$carry/lib/libvulkan.so.1" ] && ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  export LD_LIBRARY_PATH="$carry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
args=(--data "$data")
[ "$smoke" = 1 ] && args+=(--smoke)
if [ -f "$carry/proof-train.mjs" ] && [ ! -d "$root/node_modules/@tensorflow" ]; then
  cmd=("$node" "$carry/proof-train.mjs" "${args[@]}")
else
  cmd=("$node" --import tsx bench/gpu/proof-train.ts "${args[@]}")
fi
say "proof.sh: ${cmd[*]}"
if [ -n "$report" ]; then "${cmd[@]}" 2>&1 | tee -a "$report"; rc=${PIPESTATUS[0]}; else "${cmd[@]}"; rc=$?; fi
say "proof.sh: ResNet-9 run exit $rc"

# 3. The PyTorch peer on the same card (throughput at the recipe's batch), when torch is there.
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  device=$(/usr/bin/python3 -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
  if [ "$smoke" = 1 ]; then peer=(--arch resnet-9-s --batch 32 --steps 3 --warmup 1); else peer=(--arch resnet-9 --batch 512); fi
  say "proof.sh: PyTorch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)') on $device"
  /usr/bin/python3 bench/torch/reference.py throughput --device "$device" "${peer[@]}" 2>&1 | while IFS= read -r l; do say "torch: $l"; done
else
  say "proof.sh: no PyTorch here (apt-get install python3-torch): no peer figure"
fi
exit "$rc"
