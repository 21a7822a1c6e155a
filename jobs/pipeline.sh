#!/usr/bin/env bash
# Submits datagen -> train -> evaluate as three dependent Slurm jobs and prints their ids.
#   jobs/pipeline.sh DATAGEN.yaml TRAIN.yaml EVAL.yaml OUTPUT_DIR [sbatch options...]
# Each job starts only if the previous one succeeded (afterok); if one fails, the jobs waiting on
# it are cancelled instead of pending forever (--kill-on-invalid-dep).
set -euo pipefail
datagen_config=${1:?usage: jobs/pipeline.sh DATAGEN.yaml TRAIN.yaml EVAL.yaml OUTPUT_DIR [sbatch options]}
train_config=${2:?missing TRAIN.yaml}
eval_config=${3:?missing EVAL.yaml}
out=${4:?missing OUTPUT_DIR}
shift 4
here=$(cd "$(dirname "$0")" && pwd)
# The jobs find their shared functions (jobs/simscale_job.sh) and build/bin through it.
export SIMSCALE_ROOT=${SIMSCALE_ROOT:-$(dirname "$here")}
mkdir -p "$out" logs
dataset="$out/dataset.h5"
datagen=$(sbatch --parsable "$@" "$here/datagen.slurm" "$datagen_config" --output "$dataset" \
          --overwrite)
train=$(sbatch --parsable --dependency="afterok:$datagen" --kill-on-invalid-dep=yes "$@" \
        "$here/train.slurm" "$train_config" "$dataset" --output "$out/run")
evaluate=$(sbatch --parsable --dependency="afterok:$train" --kill-on-invalid-dep=yes "$@" \
           "$here/evaluate.slurm" "$eval_config" "$out/run" --output "$out/eval" --overwrite)
echo "datagen=$datagen train=$train evaluate=$evaluate"
