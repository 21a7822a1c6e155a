#!/usr/bin/env bash
# Regenerates the golden regression files tests/golden/datagen_pick_place.json and
# tests/golden/train_bc_losses.json from this checkout's build (tests/golden/golden.cc holds the
# commands: datagen_mpi on the pick_place debug config, seed 11, 4 episodes, camera agentview at
# 16x16, 1 rank; train_ddp BC for 20 steps, seed 3, 1 thread, a metrics line every step).
# Run it only when a change of these numbers is intended, and say why in the commit. The files
# record the MuJoCo and LibTorch versions they were made with; golden_test skips elsewhere.
#   scripts/update_golden.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" -j"${SIMSCALE_JOBS:-2}" --target golden_record datagen_mpi train_ddp
"$build/bin/golden_record" tests/golden
git --no-pager diff --stat -- tests/golden/*.json || true
