#!/usr/bin/env bash
# The main job on one workstation, from a fresh Debian 12 machine: installs dependencies, builds,
# and runs each tool. (Today: a smoke run of each executable that resolves and writes its
# configuration; the full datagen -> train -> evaluate pipeline replaces it as the tools land.)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${SIMSCALE_JOBS:-$(nproc)}
out=${SIMSCALE_PIPELINE_DIR:-runs/pipeline}
export OMPI_MCA_rmaps_base_oversubscribe=1

bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs" --target datagen_mpi train_ddp ppo_vec evaluate

mpirun=(mpirun --allow-run-as-root -n 2)
"${mpirun[@]}" build/bin/datagen_mpi --config configs/datagen_reach_debug.yaml \
    --output "$out/reach.h5" --overwrite
"${mpirun[@]}" build/bin/datagen_mpi --config configs/datagen_pick_place_debug.yaml \
    --output "$out/pick_place.h5" --overwrite
build/bin/datagen_mpi --stats "$out/pick_place.h5"
"${mpirun[@]}" build/bin/train_ddp --model bc --steps 10 --set train.warmup_steps=0 \
    --dataset "$out/reach.h5" --output "$out/bc_reach" --overwrite
"${mpirun[@]}" build/bin/ppo_vec --env reach --total-steps 1000 --output "$out/ppo_reach" --overwrite
"${mpirun[@]}" build/bin/evaluate --env reach --policy scripted --episodes 4 \
    --output "$out/eval_reach" --overwrite
echo "pipeline smoke run finished: outputs under $out"
