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
source "$here/../../fmnist_fixed.sh"
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
  fixed_epochs_run "$here" "$variant-e$epochs-seed$seed" \
    "variant=$variant flags='${flags[*]}' epochs=$epochs seed=$seed threads=${THREADS:-all}" \
    --arch "${NB201_CELL[conv3x3]}" --channels 16 --cells 1 --epochs "$epochs" --seed "$seed" \
    --precision bfloat16 "${threads[@]}" "${flags[@]}"
done
