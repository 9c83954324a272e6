#!/usr/bin/env bash
# The README's command times, one after another in a fresh Kiln home: the quick start, CIFAR-10 (from a local
# tarball: KILN_CIFAR10_TARBALL, default ../shared/data/cifar10/cifar-10-binary.tar.gz, with KILN_CIFAR10_SHA256 when
# it is not the official file) and "your own photos" (bench/photo-folder.ts). Run it on a quiet machine; it takes
# about 15 minutes on 2 cores. Never part of `npm test`.
set -u
cd "$(dirname "$0")/.."
tarball=${KILN_CIFAR10_TARBALL:-../shared/data/cifar10/cifar-10-binary.tar.gz}
home=$(mktemp -d "${TMPDIR:-/tmp}/kiln-readme-times-XXXX")
photos="$home/my-photos"
out="$home/last-output.txt"
trap 'rm -rf "$home"' EXIT
t() {
  local start end
  start=$(date +%s.%N)
  "$@" >"$out" 2>&1
  local rc=$?
  end=$(date +%s.%N)
  printf '%7.1f s  rc=%d  %s\n' "$(echo "$end - $start" | bc)" "$rc" "$*"
  tail -n 1 "$out" | cut -c1-160 | sed 's/^/          /'
}
npx tsx bench/photo-folder.ts "$photos" >/dev/null
t npx kiln --help
t npx kiln train --dataset synthetic --arch resnet-9-s --epochs 2 --home "$home"
t npx kiln runs list --home "$home"
t env KILN_HOME="$home" npx kiln arch show wrn-22
t npx kiln dataset download cifar10 --file "$tarball" ${KILN_CIFAR10_SHA256:+--sha256 $KILN_CIFAR10_SHA256} --home "$home"
t npx kiln lr-find --dataset cifar10 --arch resnet-9-s --limit-train 10000 --epochs 4 --home "$home"
t npx kiln train --dataset cifar10 --arch resnet-9-s --limit-train 10000 --epochs 4 --home "$home"
t npx kiln dataset import "$photos" --home "$home"
t npx kiln train --dataset my-photos --json --home "$home"
run=$(grep -o '"runId":"[^"]*"' "$out" | head -n 1 | cut -d'"' -f4)
t npx kiln runs eval "$run" --home "$home"
t npx kiln export "$run" --out "$home/exports/my-photos-onnx" --format onnx --home "$home"
t npx kiln export "$run" --out "$home/exports/my-model" --home "$home"
t npx kiln predict "$home/exports/my-photos-onnx/model.onnx" "$photos/ants" --home "$home"
