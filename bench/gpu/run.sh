#!/usr/bin/env bash
# Runs the GPU benchmark from bench/gpu/carry/ (made by prepare.sh) on a bare Linux x86-64 machine with an NVIDIA
# GPU and driver: no network, no Node, no Vulkan loader needed. From the repo root: bash bench/gpu/run.sh
# Prints resnet-9 and wrn-22 training images/s at batch 512 on WebGPU, the projected wall time of each preset's
# recipe on CIFAR-10 and the adapter; also into $OUT/gpu-bench.txt when OUT is set. Finishes inside ~8 minutes
# (KILN_GPU_BENCH_BUDGET_S, default 420 s, for the measurements). Other knobs: see gpu-bench.ts.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
carry="$here/carry"
report_name=gpu-bench.txt
# shellcheck source=bench/gpu/report.sh
. "$(dirname "$0")/report.sh"

if [ ! -f "$carry/gpu-bench.mjs" ]; then
  say "run.sh: $carry/gpu-bench.mjs is missing: run bench/gpu/prepare.sh on the machine with the repo, and carry bench/gpu/carry"
  exit 2
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/kiln-gpu-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
say "run.sh: $(head -1 "$carry/MANIFEST.txt" 2>/dev/null); unpacking into $work"

# The carried copy may be read-only: unpack next to it in a scratch folder.
mkdir -p "$work/app/node_modules/webgpu/dist/linux-x64" "$work/lib"
cp "$carry/gpu-bench.mjs" "$work/app/"
cp "$carry/node_modules/webgpu/package.json" "$carry/node_modules/webgpu/index.js" "$work/app/node_modules/webgpu/"
gzip -dc "$carry/node_modules/webgpu/dist/linux-x64/dawn.node.gz" >"$work/app/node_modules/webgpu/dist/linux-x64/dawn.node"
gzip -dc "$carry/node.gz" >"$work/node"
chmod +x "$work/node"
node="$work/node"
if ! "$node" --version >/dev/null 2>&1; then
  if command -v node >/dev/null && node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'; then
    say "run.sh: the carried Node does not start here; using $(command -v node) $(node --version)"
    node=$(command -v node)
  else
    say "run.sh: the carried Node does not start here and no Node >= 20 is installed"
    exit 2
  fi
fi

# Vulkan loader: the system's if there is one, else Debian's carried libvulkan.so.1.
# KILN_GPU_BENCH_CARRIED_LOADER=1 takes the carried one regardless (how run.sh is tried on a machine that has one).
if [ -z "${KILN_GPU_BENCH_CARRIED_LOADER:-}" ] && ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; then
  say "run.sh: Vulkan loader: $(ldconfig -p | grep -m1 'libvulkan\.so\.1' | sed 's/.*=> //')"
else
  cp "$carry/lib/libvulkan.so.1" "$work/lib/"
  export LD_LIBRARY_PATH="$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  say "run.sh: Vulkan loader: carried $(basename "$carry/lib/libvulkan.so.1") (Debian libvulkan1)"
fi

# NVIDIA's Vulkan driver manifest: where the loader looks, else where container runtimes put it, else one written
# here for the driver library the container has (libGLX_nvidia or libEGL_nvidia carry the Vulkan ICD).
if [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]; then
  icd=""
  for d in /etc/vulkan/icd.d /usr/share/vulkan/icd.d /usr/local/share/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d /usr/local/nvidia/icd.d; do
    for f in "$d"/nvidia*.json; do [ -f "$f" ] && icd="$f" && break 2; done
  done
  if [ -z "$icd" ]; then
    lib=$(ldconfig -p 2>/dev/null | grep -m1 -oE 'libGLX_nvidia\.so\.0|libEGL_nvidia\.so\.0' || true)
    if [ -n "$lib" ]; then
      icd="$work/nvidia_icd.json"
      printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$lib" >"$icd"
    fi
  fi
  if [ -n "$icd" ]; then
    case "$icd" in /etc/vulkan/* | /usr/share/vulkan/* | /usr/local/share/vulkan/*) ;; *) export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd" ;; esac
    say "run.sh: NVIDIA Vulkan driver manifest: $icd ($(grep -o '"library_path"[^,}]*' "$icd" | head -1))"
  else
    say "run.sh: no NVIDIA Vulkan driver manifest and no libGLX_nvidia/libEGL_nvidia library found; NVIDIA libraries here: $(ldconfig -p 2>/dev/null | grep -o 'lib[A-Za-z_]*nvidia[A-Za-z_.0-9]*' | sort -u | tr '\n' ' ')"
  fi
fi
if command -v nvidia-smi >/dev/null; then
  say "run.sh: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -2 | tr '\n' ' ')"
fi

export OUT="${OUT:-}"
[ -z "$OUT" ] && unset OUT
# The script writes its own lines to the report; a crash's stderr goes there too.
if [ -n "$report" ]; then
  timeout "${KILN_GPU_BENCH_TIMEOUT_S:-460}" "$node" "$work/app/gpu-bench.mjs" 2> >(tee -a "$report" >&2)
else
  timeout "${KILN_GPU_BENCH_TIMEOUT_S:-460}" "$node" "$work/app/gpu-bench.mjs"
fi
rc=$?
[ "$rc" = 124 ] && say "run.sh: gpu-bench was killed at the ${KILN_GPU_BENCH_TIMEOUT_S:-460} s limit"
exit "$rc"
