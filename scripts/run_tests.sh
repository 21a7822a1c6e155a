#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs dependencies, builds with warnings
# as errors, runs every test (unit, MPI at 1/2/4 ranks, end-to-end, package), compiles the
# CUDA/NCCL parts against the local CUDA toolkit, reruns the suite under ASan+UBSan and fuzzes the
# parsers (libFuzzer) for a bounded time.
#   --quick   only the main build and its tests (for development)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
  esac
done

jobs=${SIMSCALE_JOBS:-$(nproc)}
export OMPI_MCA_rmaps_base_oversubscribe=1
start=$(date +%s)
section() { echo; echo "=== $* ($(( $(date +%s) - start )) s)"; }

section "setup"
bash scripts/setup.sh

section "build (Release, -Werror)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSIMSCALE_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

section "tests"
(cd build && ctest -j"$jobs" --output-on-failure --no-tests=error)

if ((quick)); then
  section "done (quick)"
  exit 0
fi

section "CUDA/NCCL compile check"
if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  cmake -S . -B build-cuda -DCMAKE_BUILD_TYPE=Release -DSIMSCALE_WERROR=ON -DSIMSCALE_WITH_CUDA=ON \
        -DSIMSCALE_BUILD_BENCHMARKS=OFF >/dev/null
  cmake --build build-cuda -j"$jobs" --target simscale_gpu nccl_test
  # The NCCL gradient all-reduce of train_ddp (one object; the rest of the module is CUDA-free).
  cmake --build build-cuda -j"$jobs" --target simscale_torch_pch
  make -C build-cuda/common/train -j"$jobs" grad_sync.cc.o
  # Without a GPU the device tests skip; the NCCL library itself must load and answer.
  build-cuda/bin/nccl_test
else
  echo "no CUDA toolkit (nvcc) on this machine: CUDA/NCCL parts not compiled"
fi

section "sanitizers (ASan + UBSan)"
# The library below LibTorch (core, config, MPI, simulation, rendering, envs, HDF5 store, rollout
# with its thread pool and vector env) and its
# tests, instrumented. The LibTorch-based modules are left out: rebuilding them without the
# precompiled header would take longer than the rest of CI together, and most of their code
# paths run inside the uninstrumented LibTorch.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSIMSCALE_SANITIZE=ON \
      -DSIMSCALE_BUILD_BENCHMARKS=OFF >/dev/null
sanitized_tests=(core_test config_test mpi_test mpi_abort_test mpi_abort_probe mujoco_test sim_test
                 io_unit_test io_store_test io_validate_test io_resume_test io_integrity_test
                 io_store_probe rollout_test)
cmake --build build-asan -j"$jobs" --target "${sanitized_tests[@]}"
# OpenMPI and Mesa keep allocations until exit by design: leak checking reports only them.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Only the targets built above have tests (the others appear as *_NOT_BUILT placeholders; MPI
# tests of LibTorch code carry the label torch, the figure tests, which run every tool, plot; the
# robomimic check of a real datagen output and the gradient tests need tools built only above).
(cd build-asan && ctest -j"$jobs" --output-on-failure --no-tests=error -LE "package|slurm|structure|torch|plot" \
    -E "_NOT_BUILT|robomimic_datagen|robomimic_compat_datagen|train_grad_test|train.grad_dataset")

section "fuzzing (libFuzzer under ASan+UBSan, bounded)"
# Each target replays its checked-in corpus, then fuzzes for a bounded time (scripts/fuzz.sh).
bash scripts/fuzz.sh --seconds "${SIMSCALE_FUZZ_SECONDS:-30}"

section "all tests passed"
