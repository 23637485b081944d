#!/usr/bin/env bash
# Issue 10, the recipe lever: the reference network (all-conv3x3 NB201 cell, 16 channels, 1 cell
# per stage, bfloat16) trained for a fixed number of epochs with one change to the default recipe
# at a time, to see which recipe could lift Fashion-MNIST above the default's accuracy at the
# epochs 30 minutes buy (23 on this machine). Fixed epochs make the accuracy independent of the
# machine's load, so two runs may share the machine (THREADS=1 each).
# One run per argument, VARIANT:SEED:EPOCHS, appended to runs.txt; logs in logs/.
#   THREADS=1 bench/results/fmnist_recipe/run.sh smooth:0:23 &  THREADS=1 ... cutout:0:23 &
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
bin="${NASCENT_BIN:-$root/target/release/nascent}"
arch='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
mkdir -p "$here/logs"
for run in "$@"; do
  IFS=: read -r variant seed epochs <<<"$run"
  case "$variant" in
    default) flags=() ;;
    smooth) flags=(--label-smoothing 0.1) ;;
    cutout) flags=(--cutout 8) ;;
    smooth-cutout) flags=(--label-smoothing 0.1 --cutout 8) ;;
    noaug) flags=(--augment none) ;;
    flip) flags=(--augment crop-flip) ;;
    crop) flags=(--augment crop) ;;
    wd1e-4) flags=(--weight-decay 0.0001) ;;
    wd1e-3) flags=(--weight-decay 0.001) ;;
    lr0.05) flags=(--lr 0.05) ;;
    lr0.2) flags=(--lr 0.2) ;;
    batch64) flags=(--batch 64 --lr 0.05) ;;
    batch256) flags=(--batch 256 --lr 0.2) ;;
    batch32) flags=(--batch 32 --lr 0.025) ;;
    *) echo "unknown variant $variant" >&2; exit 2 ;;
  esac
  threads=()
  [[ -n "${THREADS:-}" ]] && threads=(--threads "$THREADS")
  log="$here/logs/$variant-e$epochs-seed$seed.log"
  start=$(date +%s)
  "$bin" train --space nb201 --arch "$arch" --channels 16 --cells 1 --epochs "$epochs" \
    --seed "$seed" --precision bfloat16 "${threads[@]}" "${flags[@]}" -v >"$log.out" 2>"$log"
  end=$(date +%s)
  acc=$(grep -oE "test accuracy +[0-9.]+" "$log.out" | grep -oE "[0-9.]+$")
  echo "variant=$variant flags='${flags[*]}' epochs=$epochs seed=$seed test=$acc seconds=$((end - start)) threads=${THREADS:-all} $(date -u +%FT%TZ)" >>"$here/runs.txt"
done
