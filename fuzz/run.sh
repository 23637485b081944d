#!/usr/bin/env bash
# Fuzzes each named target (default: all) for SECONDS (default 600) seconds, one after the
# other, at low priority; then folds what it found into the committed corpus, minimised.
#
#   fuzz/run.sh [-t SECONDS] [TARGET...]
#
# Logs: bench/results/fuzz/<target>.log (libFuzzer's own output, final statistics at the end).
# Crashes: fuzz/artifacts/<target>/ (the run stops at the first one). Needs cargo-fuzz
# (`cargo install cargo-fuzz`); on a stable toolchain RUSTC_BOOTSTRAP=1 lets it use the
# nightly flags it needs (sanitizers, coverage instrumentation).
set -uo pipefail
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
secs=600
if [ "${1:-}" = "-t" ]; then secs=$2; shift 2; fi
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=($(cargo fuzz list))
logs=../bench/results/fuzz
mkdir -p "$logs"
for t in "${targets[@]}"; do
    max_len=4096
    case $t in
        cifar) max_len=8192 ;;
        image_folder|tar_archive) max_len=16384 ;;
        csv_table|nb201_table) max_len=8192 ;;
    esac
    mkdir -p "work/$t" "corpus/$t"
    echo "== $t: ${secs}s, max_len $max_len, started $(date -u +%FT%TZ)" | tee "$logs/$t.log"
    nice -n 5 cargo fuzz run -a "$t" "work/$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 -timeout=20 \
        -print_final_stats=1 >>"$logs/$t.log" 2>&1
    rc=$?
    echo "== $t: exit $rc, ended $(date -u +%FT%TZ)" | tee -a "$logs/$t.log"
    python3 trim_log.py "$logs/$t.log"
    cp -n "work/$t"/* "seeds/$t"/* "corpus/$t"/ 2>/dev/null
    nice -n 5 cargo fuzz cmin -a "$t" "corpus/$t" -- -max_len="$max_len" -rss_limit_mb=2048 \
        >"work/$t.cmin.log" 2>&1 || echo "cmin of $t failed: see fuzz/work/$t.cmin.log"
    echo "== $t: corpus $(ls "corpus/$t" | wc -l) files, $(du -sb "corpus/$t" | cut -f1) bytes (with the folder)" | tee -a "$logs/$t.log"
done
