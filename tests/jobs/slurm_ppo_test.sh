#!/usr/bin/env bash
# Runs jobs/ppo.slurm on a local single-node Slurm cluster and preempts it the way Slurm does
# before a time limit (SIGUSR1 to the batch shell): the ranks checkpoint and exit 75, the job
# requeues itself, the second start resumes from the checkpoint and the job completes with every
# update trained once.
#   tests/jobs/slurm_ppo_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
source "$src/tests/jobs/local_slurm.sh"
slurm_scratch_cluster 6921 6922

cd "$work"
export SIMSCALE_BIN="$build/bin"
mkdir -p logs
updates=40
job=$(sbatch --parsable --ntasks=2 --cpus-per-task=1 --time=15 "$src/jobs/ppo.slurm" \
      "$src/configs/ppo_reach_debug.yaml" --output "$work/run" --num-envs 4 \
      --total-steps $((updates * 64 * 8)) --set ppo.epochs=2 --set ppo.checkpoint_every=5 \
      --log.level warn)
echo "submitted ppo job $job"
lines() { [ -f "$work/run/metrics.jsonl" ] && wc -l < "$work/run/metrics.jsonl" || echo 0; }
for _ in $(seq 1 600); do [ "$(lines)" -ge 3 ] && break; sleep 0.5; done
[ "$(lines)" -ge 3 ] || { echo "no training after 5 minutes"; cat logs/* "$work"/log/*; exit 1; }
# What Slurm does two minutes before the time limit (--signal=B:USR1@120).
scancel --signal=USR1 --batch "$job"
slurm_wait "$job"
state=$(slurm_state "$job")
[ "$state" = COMPLETED ] || { echo "job $job ended $state"; cat logs/*; exit 1; }
grep -q "requeueing job $job" logs/* || { echo "the job was not preempted and requeued"; cat logs/*; exit 1; }
restarts=$(scontrol show job "$job" | grep -o 'Restarts=[0-9]*' | cut -d= -f2)
[ "$restarts" -ge 1 ] || { echo "expected a restart, got $restarts"; exit 1; }
# Every update once, in order, after the resume cut the metrics back to the checkpoint.
seq_ok=$(python3 -c "
import json
u = [json.loads(l)['update'] for l in open('$work/run/metrics.jsonl')]
print(int(u == list(range(1, $updates + 1))))")
[ "$seq_ok" = 1 ] || { echo "metrics updates are not 1..$updates"; cat "$work/run/metrics.jsonl"; exit 1; }
[ -f "$work/run/checkpoints/update_$(printf %09d $updates)/COMPLETE" ] || { echo "no final checkpoint"; exit 1; }
echo "slurm ppo preemption test passed"
