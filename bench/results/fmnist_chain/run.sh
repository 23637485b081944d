#!/usr/bin/env bash
# Issue 10, the network-family lever: a ResNet-like chain network (a 3x3 convolution at full
# resolution, then stride-2 convolutions and residual blocks at 14x14 and 7x7, 611k parameters)
# trained on Fashion-MNIST for a fixed number of epochs with the default recipe in bfloat16, to
# compare with the all-conv3x3 NB201 cell (bench/results/fmnist_recipe: 94.69 % at 23 epochs).
# One run per argument, ARCH_NAME:SEED:EPOCHS; results appended to runs.txt, logs in logs/.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${NASCENT_BIN:-$root/target/release/nascent}"
mkdir -p "$here/logs"
for run in "$@"; do
  IFS=: read -r name seed epochs <<<"$run"
  case "$name" in
    resnet-a) arch='conv_3x3-32-s1,conv_3x3-64-s2,res_block_3x3-64-s1,conv_3x3-128-s2,res_block_3x3-128-s1,conv_3x3-128-s2' ;;
    *) echo "unknown network $name" >&2; exit 2 ;;
  esac
  threads=()
  [[ -n "${THREADS:-}" ]] && threads=(--threads "$THREADS")
  log="$here/logs/$name-e$epochs-seed$seed.log"
  start=$(date +%s)
  "$bin" train --space chain --arch "$arch" --epochs "$epochs" \
    --seed "$seed" --precision bfloat16 "${threads[@]}" -v >"$log.out" 2>"$log"
  end=$(date +%s)
  acc=$(grep -oE "test accuracy +[0-9.]+" "$log.out" | grep -oE "[0-9.]+$")
  echo "net=$name arch=$arch epochs=$epochs seed=$seed test=$acc seconds=$((end - start)) threads=${THREADS:-all} $(date -u +%FT%TZ)" >>"$here/runs.txt"
done
