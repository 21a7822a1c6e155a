#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang under ASan+UBSan, then for each target
# replays its checked-in corpus (tests/fuzz/corpus/<target>/: seeds and every input that once
# failed) and fuzzes it for a bounded time from a scratch copy of that corpus. Fails on the first
# crash, sanitizer report, timeout (10 s per input) or allocation over 2 GiB, leaving the input in
# build-fuzz/artifacts/ (once fixed, add it to the corpus as a regression input).
#   scripts/fuzz.sh [--seconds N] [TARGET...]   (default: 30 s each, every target)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=30
targets=()
while (($#)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    fuzz_*) targets+=("$1"); shift ;;
    *) echo "usage: $0 [--seconds N] [fuzz_config|fuzz_checkpoint_meta|fuzz_tokenizer|fuzz_store ...]" >&2
       exit 2 ;;
  esac
done
((${#targets[@]})) || targets=(fuzz_config fuzz_checkpoint_meta fuzz_tokenizer fuzz_store)

if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ is not installed (scripts/setup.sh installs it)" >&2
  exit 1
fi
build=build-fuzz
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMSCALE_FUZZ=ON \
  -DSIMSCALE_BUILD_TESTS=OFF -DSIMSCALE_BUILD_BENCHMARKS=OFF -DSIMSCALE_TORCH_PCH=OFF >/dev/null
cmake --build "$build" -j"${SIMSCALE_JOBS:-$(nproc)}" --target "${targets[@]}" fuzz_store_seed

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
artifacts="$build/artifacts"
mkdir -p "$artifacts"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The store target runs OpenMPI and HDF5, which keep allocations until exit by design.
export SIMSCALE_FUZZ_STORE="$scratch/seed_store.h5"
ASAN_OPTIONS=detect_leaks=0 OMPI_MCA_rmaps_base_oversubscribe=1 "$build/bin/fuzz_store_seed" "$SIMSCALE_FUZZ_STORE" >/dev/null
export TMPDIR="$scratch"

summary=()
for target in "${targets[@]}"; do
  corpus="tests/fuzz/corpus/${target#fuzz_}"
  leaks=1
  [ "$target" = fuzz_store ] && leaks=0
  export ASAN_OPTIONS=detect_leaks=$leaks:abort_on_error=1
  flags=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts/$target-")
  echo "=== $target: replaying $(ls "$corpus" | wc -l) corpus inputs"
  "$build/bin/$target" "${flags[@]}" -runs=0 "$corpus" >"$scratch/$target.replay.log" 2>&1 || {
    tail -n 60 "$scratch/$target.replay.log"
    echo "fuzz: $target fails on its checked-in corpus" >&2
    exit 1
  }
  mkdir -p "$scratch/$target"
  echo "=== $target: fuzzing for $seconds s"
  "$build/bin/$target" "${flags[@]}" -max_total_time="$seconds" -print_final_stats=1 \
      "$scratch/$target" "$corpus" >"$scratch/$target.log" 2>&1 || {
    tail -n 80 "$scratch/$target.log"
    echo "fuzz: $target failed; the input is in $artifacts/" >&2
    exit 1
  }
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$scratch/$target.log")
  coverage=$(grep -o 'cov: [0-9]*' "$scratch/$target.log" | tail -n 1)
  summary+=("$(printf '%-22s %10s executions in %s s, %s' "$target" "$runs" "$seconds" "$coverage")")
done
printf '%s\n' "fuzz: no failures" "${summary[@]}" | tee "$build/fuzz_summary.txt"
