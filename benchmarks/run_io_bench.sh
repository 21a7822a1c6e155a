#!/usr/bin/env bash
# Sweeps io_bench (the episode store's write path) at 1 and 2 ranks and prints a Markdown table.
#   benchmarks/run_io_bench.sh [BUILD_DIR] [SCRATCH_DIR]
# Results recorded in benchmarks/RESULTS.md, section "HDF5 store".
set -euo pipefail
build=${1:-build}
scratch=${2:-${TMPDIR:-/tmp}}
bench="$build/bin/io_bench"
mpirun=(mpirun --oversubscribe --allow-run-as-root)
[ -x "$bench" ] || { echo "no $bench: build the io_bench target first" >&2; exit 1; }

echo "| ranks | data | gzip | T | episodes/rank/round | episodes/round | MB/round | median ms/round | min–max ms | ms/episode | MB/s | views ms/episode | file MB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for ranks in 1 2; do
  for storage in "0 0" "4 0" "4 256"; do
    read -r gzip chunk <<<"$storage"
    for k in 1 8 32; do
      "${mpirun[@]}" -n "$ranks" "$bench" --data lowdim --gzip-lowdim "$gzip" --chunk-rows "$chunk" \
        --episodes-per-rank "$k" --length 200 --rounds 20 --dir "$scratch" 2>/dev/null
    done
  done
  for gzip in 0 1; do
    for k in 1 4; do
      "${mpirun[@]}" -n "$ranks" "$bench" --data images --gzip-lowdim 0 --gzip-images "$gzip" \
        --episodes-per-rank "$k" --length 200 --rounds 6 --dir "$scratch" 2>/dev/null
    done
  done
done
