#!/usr/bin/env bash
# The main job on one workstation, from a fresh Debian 12 machine: installs dependencies, builds,
# then runs the pipeline on 2 MPI ranks:
#   1. datagen_mpi: expert demonstrations for reach and pick-and-place (parallel HDF5, validated)
#   2. train_ddp:   behaviour cloning on each dataset (data-parallel over the ranks)
#   3. evaluate:    scripted expert, trained BC and a random policy, 100 seeded episodes each,
#                   on unseen layouts (a different seed from the demonstrations)
# and prints the success table, written with the run's figures to $out/summary.md (the tools draw
# their own: datagen --stats the dataset figures, train_ddp its curves, evaluate its success bars;
# simscale-plot draws one evaluation figure over every policy).
# Environment: SIMSCALE_PIPELINE_DIR (default runs/pipeline), SIMSCALE_JOBS (build parallelism),
# SIMSCALE_EPISODES (demonstrations per task, default 200), SIMSCALE_EVAL_EPISODES (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${SIMSCALE_JOBS:-$(nproc)}
out=${SIMSCALE_PIPELINE_DIR:-runs/pipeline}
demos=${SIMSCALE_EPISODES:-200}
eval_episodes=${SIMSCALE_EVAL_EPISODES:-100}
export OMPI_MCA_rmaps_base_oversubscribe=1
start=$(date +%s)
stage() { echo; echo "=== $* ($(( $(date +%s) - start )) s)"; }

stage "setup"
bash scripts/setup.sh
stage "build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs" --target datagen_mpi train_ddp evaluate

mpirun=(mpirun --allow-run-as-root -n 2)
bin=build/bin
mkdir -p "$out"

for env in reach pick_place; do
  stage "datagen: $demos $env demonstrations"
  "${mpirun[@]}" $bin/datagen_mpi --env "$env" --episodes "$demos" --seed 0 \
      --output "$out/$env.h5" --overwrite
  $bin/datagen_mpi --validate "$out/$env.h5"
  $bin/datagen_mpi --stats "$out/$env.h5"

  stage "train: BC on $env"
  "${mpirun[@]}" $bin/train_ddp --config "configs/bc_$env.yaml" --dataset "$out/$env.h5" \
      --output "$out/bc_$env" --overwrite

  for policy in scripted "$out/bc_$env" random; do
    name=$(basename "$policy")
    stage "evaluate: $name on $env"
    "${mpirun[@]}" $bin/evaluate --env "$env" --policy "$policy" --episodes "$eval_episodes" \
        --seed 1000 --output "$out/eval_${env}_$name" --overwrite
  done
done

stage "summary"
{
  echo "| env | policy | success | 95% interval | return (mean +- std) | mean length |"
  echo "|---|---|---|---|---|---|"
  for env in reach pick_place; do
    for name in scripted "bc_$env" random; do
      awk -F, -v env="$env" -v name="$name" 'NR > 1 {
        printf "| %s | %s | %.1f%% (%d/%d) | %.1f-%.1f%% | %.1f +- %.1f | %.0f |\n",
               env, name, 100 * $4, $3, $2, 100 * $5, 100 * $6, $7, $8, $11 }' \
          "$out/eval_${env}_$name/results.csv"
    done
  done
} | tee "$out/summary.md"

stage "figures"
"$bin/simscale-plot" eval "$out"/eval_reach_* "$out"/eval_pick_place_* -o "$out/evaluation.png" ||
  echo "no evaluation figure (plotting unavailable)"
figure() {  # caption, file relative to $out: embedded when it exists
  if [ -f "$out/$2" ]; then echo "![$1]($2)"; echo; fi
}
{
  echo
  echo "## Figures"
  echo
  figure "Evaluation: success with 95% intervals" evaluation.png
  for env in reach pick_place; do
    figure "BC training curves on $env" "bc_$env/curves.png"
    figure "The $env dataset: episodes and actions" "${env}_stats.png"
    figure "The $env dataset: observations per dimension" "${env}_states.png"
  done
} >> "$out/summary.md"
echo "figures: $(grep -c '^!\[' "$out/summary.md") embedded in $out/summary.md"
echo
echo "pipeline finished in $(( $(date +%s) - start )) s; outputs under $out"
