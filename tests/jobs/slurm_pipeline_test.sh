#!/usr/bin/env bash
# Runs jobs/pipeline.sh (datagen -> train -> evaluate as dependent sbatch jobs) on a local
# single-node Slurm cluster started for the test, and checks real outcomes: every job completes,
# the evaluation beats a random policy, and a failing first job cancels its dependents.
#   tests/jobs/slurm_pipeline_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
source "$src/tests/jobs/local_slurm.sh"
slurm_scratch_cluster 6917 6918

cd "$work"
export SIMSCALE_BIN="$build/bin"
ids=$(bash "$src/jobs/pipeline.sh" "$src/configs/datagen_reach_debug.yaml" \
      "$src/configs/bc_reach_debug.yaml" "$src/configs/eval_reach_debug.yaml" "$work/out" \
      --ntasks=2 --time=15)
echo "submitted: $ids"
eval "$ids"  # sets datagen, train and evaluate
# shellcheck disable=SC2154
slurm_wait "$datagen" "$train" "$evaluate"
for job in "$datagen" "$train" "$evaluate"; do
  state=$(slurm_state "$job")
  if [ "$state" != COMPLETED ]; then
    echo "job $job ended $state"; cat logs/*; exit 1
  fi
done
rate=$(grep -o '"success_rate": [0-9.]*' "$work/out/eval/results.json" | head -1 | cut -d' ' -f2)
echo "BC reach success rate after the Slurm pipeline: $rate"
awk -v r="$rate" 'BEGIN { exit !(r >= 0.5) }' || { echo "expected a policy that works (>= 50%), got $rate"; exit 1; }

# A failing first job: its dependents must be cancelled, not left pending forever.
ids=$(bash "$src/jobs/pipeline.sh" "$src/configs/datagen_reach_debug.yaml" \
      "$src/configs/bc_reach_debug.yaml" "$src/configs/eval_reach_debug.yaml" "$work/out2" \
      --ntasks=2 --time=15 --export=ALL,SIMSCALE_BIN=/nonexistent)
eval "$ids"  # sets datagen, train and evaluate
# shellcheck disable=SC2154
slurm_wait "$datagen" "$train" "$evaluate"
[ "$(slurm_state "$datagen")" = FAILED ] || { echo "datagen should have failed: $(slurm_state "$datagen")"; exit 1; }
for job in "$train" "$evaluate"; do
  [ "$(slurm_state "$job")" = CANCELLED ] || { echo "job $job should be cancelled: $(slurm_state "$job")"; exit 1; }
done
echo "slurm pipeline test passed"
