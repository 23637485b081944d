# Shared by issue 10's Fashion-MNIST experiments in bench/results/fmnist_*/ (sourced by their
# run.sh and speed.sh, which keep each folder's own arguments, log names and runs.txt lines):
# NAS-Bench-201 networks trained by `nascent train` for a fixed number of epochs, so that the
# accuracy does not depend on the machine's pace, and their training speed measured in
# alternating rounds. NASCENT_BIN picks the binary (default: this checkout's release build); an
# experiment's NASCENT_EXP_* knob passes through the environment to a binary built with its patch.

# The cells the experiments name.
declare -A NB201_CELL=(
  [conv3x3]='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|'
  [resnet]='|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|skip_connect~2|'
  [transfer]='|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|'
)
NASCENT_BIN="${NASCENT_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/release/nascent}"

# fixed_epochs_run DIR NAME FIELDS [nascent train flags...]: one `nascent train --space nb201`
# run with the flags given (verbose), its stdout in DIR/logs/NAME.log.out and its log in
# DIR/logs/NAME.log; then "FIELDS test=ACCURACY seconds=WALL TIME" is appended to DIR/runs.txt.
fixed_epochs_run() {
  local dir=$1 name=$2 fields=$3
  shift 3
  mkdir -p "$dir/logs"
  local log="$dir/logs/$name.log" start end acc
  start=$(date +%s)
  "$NASCENT_BIN" train --space nb201 "$@" -v >"$log.out" 2>"$log"
  end=$(date +%s)
  acc=$(grep -oE "test accuracy +[0-9.]+" "$log.out" | grep -oE "[0-9.]+$")
  echo "$fields test=$acc seconds=$((end - start)) $(date -u +%FT%TZ)" >>"$dir/runs.txt"
}

# speed_pass LABEL [nascent train flags...]: 2 epochs of `nascent train --space nb201` on a
# quarter of Fashion-MNIST with the flags given, two data-parallel copies, bfloat16; prints
# "TIME LABEL epoch 1 IMAGES/S epoch 2 IMAGES/S" and the network's parameters.
speed_pass() {
  local label=$1 out
  shift
  out=$("$NASCENT_BIN" train --space nb201 "$@" --epochs 2 --data-fraction 0.25 --replicas 2 \
    --precision bfloat16 -v 2>&1 |
    grep -E "epoch [0-9]:|parameters" | sed -E 's/.*(epoch [0-9]).*, ([0-9]+) img\/s/\1 \2/' |
    tr '\n' ' ')
  echo "$(date -u +%FT%TZ) $label $out"
}
