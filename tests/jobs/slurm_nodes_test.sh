#!/usr/bin/env bash
# jobs/train_vla.slurm on a two-node Slurm cluster started by the test (tests/jobs/two_node_slurm.sh:
# two slurmd in network + UTS namespaces of their own, hostnames simnode1 and simnode2), on a tiny
# VLA (camera + language) configuration chosen through the script's exported variables.
#   tests/jobs/slurm_nodes_test.sh SOURCE_DIR BUILD_DIR two_nodes|preemption|lost_rank
# two_nodes   `sbatch --nodes=2 --ntasks-per-node=1 jobs/train_vla.slurm` completes with one rank
#             on each hostname and a results table; `sbatch jobs/train_vla.slurm` with no other
#             argument (1 node, 2 ranks, same global batch) trains to the same losses and the same
#             weights byte for byte, keeping the dataset the first job made; a missing config
#             fails the job at once, naming the file.
# preemption  a two-node training job signalled as Slurm does before a time limit (SIGUSR1 to
#             the batch shell), and another one sent SIGTERM on its ranks (what KillWait
#             delivers): each checkpoints, exits 75, requeues itself, resumes and completes with
#             final weights equal byte for byte to an uninterrupted run's.
# lost_rank   a rank SIGKILLed while training (its peer waits in an all-reduce): the job ends
#             FAILED within a bounded time, its log names the lost rank and host; no requeue.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
mode=$3
source "$src/tests/jobs/two_node_slurm.sh"
case "$mode" in
  two_nodes) port=6923 ;;
  preemption) port=6925 ;;
  lost_rank) port=6927 ;;
  *) echo "unknown mode '$mode'"; exit 2 ;;
esac
start=$(date +%s)
# The nodes have a private /tmp: a checkout or build under /tmp must be bound back into it.
two_node_keep="$src $build"
two_node_cluster "$port"
echo "two-node cluster up in $(($(date +%s) - start)) s: $(sinfo -h -N -o '%N/%T' | tr '\n' ' ')"

# A repository root of the test's own (the jobs write data/, runs/ and logs/ under it).
repo="$work/repo"
mkdir -p "$repo/logs"
for part in jobs configs assets; do ln -s "$src/$part" "$repo/$part"; done
ln -s "$build" "$repo/build"
cd "$repo"

# Tiny: 4 pick-and-place episodes with 16x16 camera images, a 1-layer VLA, 2-episode evaluation.
export SIMSCALE_DATAGEN_CONFIG=configs/datagen_pick_place_debug.yaml
export SIMSCALE_DATAGEN_ARGS="--episodes 4 --cameras agentview --set datagen.image_size=16
  --set datagen.episodes_per_round=2 --max-steps 60 --set datagen.only_successful=false
  --plots false"
export SIMSCALE_TRAIN_CONFIG=configs/vla_pick_place_debug.yaml
steps=40
train_args="--set model.image_size=16 --set model.vla.embed_dim=32 --set model.vla.num_layers=1
  --set model.vla.patch_size=8 --set train.batch_size=8 --set train.log_every=1 --plots false"
export SIMSCALE_TRAIN_ARGS="$train_args --steps $steps"
export SIMSCALE_EVAL_CONFIG=configs/eval_pick_place.yaml
export SIMSCALE_EVAL_ARGS="--episodes 2 --conditions clean --max-steps 30 --plots false"
unset SIMSCALE_OUTPUT SIMSCALE_DATASET SIMSCALE_TASK SIMSCALE_ROOT SIMSCALE_BIN

fail() {
  echo "FAILED: $*"
  for log in logs/*; do [ -f "$log" ] && { echo "--- $log"; cat "$log"; }; done
  exit 1
}
log_of() { echo "logs/simscale-vla-$1.out"; }
expect_state() {
  local state
  state=$(slurm_state "$1")
  [ "$state" = "$2" ] || fail "job $1 ended $state, expected $2"
}
final_model() { echo "$1/run/checkpoints/step_$(printf %09d "$steps")/model.pt"; }
same_weights() {  # RUN_A RUN_B: the final model tensors, byte for byte
  [ -f "$(final_model "$1")" ] || fail "no final checkpoint in $1"
  cmp "$(final_model "$1")" "$(final_model "$2")" ||
    fail "final weights of $1 and $2 differ"
}
same_losses() {  # RUN_A RUN_B: every step's loss in metrics.jsonl
  python3 - "$1/run/metrics.jsonl" "$2/run/metrics.jsonl" "$steps" <<'PY' || fail "losses differ"
import json, sys
runs = [[(r["step"], r["loss"]) for r in map(json.loads, open(p))] for p in sys.argv[1:3]]
assert [s for s, _ in runs[0]] == list(range(1, int(sys.argv[3]) + 1)), runs[0]
assert runs[0] == runs[1], list(zip(*runs))
print("losses equal at every step:", runs[0][0], "...", runs[0][-1])
PY
}
same_store() {  # A.h5 B.h5: the same datasets, shapes and values under episodes/ (attributes,
  # such as the resolved config with its --output and --resume, may differ)
  local datasets
  diff <(h5ls -r "$1/episodes") <(h5ls -r "$2/episodes") || fail "$1 and $2: other datasets or shapes"
  datasets=$(h5ls -r "$1/episodes" | awk '$2 == "Dataset" { print $1 }')
  if [ "$(wc -w <<< "$datasets")" -lt 10 ] || ! grep -q agentview_image <<< "$datasets"; then
    fail "$1 holds too little: $datasets"
  fi
  for dataset in $datasets; do
    h5diff -q "$1" "$2" "/episodes$dataset" "/episodes$dataset" || fail "$1 and $2 differ in $dataset"
  done
}
wait_for_steps() {  # RUN N: until the run has logged N steps (2 minutes at most)
  for _ in $(seq 1 1200); do
    [ "$(wc -l 2>/dev/null < "$1/run/metrics.jsonl" || echo 0)" -ge "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 logged no $2 training steps within 2 minutes"
}
two_node_job() {  # OUTPUT [sbatch flags]: a 2-node, 1-rank-per-node train_vla job
  local out=$1
  shift
  SIMSCALE_OUTPUT=$out sbatch --parsable --nodes=2 --ntasks-per-node=1 "$@" jobs/train_vla.slurm
}

case "$mode" in
two_nodes)
  job=$(two_node_job runs/two_nodes)
  slurm_wait "$job"
  expect_state "$job" COMPLETED
  log=$(log_of "$job")
  if ! grep -q "simnode1\] rank 0/2" "$log" || ! grep -q "simnode2\] rank 1/2" "$log"; then
    fail "the two ranks did not run on simnode1 and simnode2"
  fi
  echo "job $job: rank 0 on simnode1, rank 1 on simnode2"
  [ -f data/datagen_pick_place_debug.h5 ] || fail "no dataset"
  grep -q "^clean .*%" runs/two_nodes/results.txt || fail "no results table"

  # Requeued after it finished, the job starts again and keeps everything: no step reruns, the
  # results and the weights stay the same files, byte for byte.
  cp runs/two_nodes/results.txt "$work/results.before"
  cp "$(final_model runs/two_nodes)" "$work/model.before"
  scontrol requeue "$job"
  for _ in $(seq 1 120); do
    [ "$(grep -c "start 2 on" "$log")" = 1 ] && [ -z "$(squeue -h -j "$job")" ] && break
    sleep 0.5
  done
  expect_state "$job" COMPLETED
  grep -q "start 2 on" "$log" || fail "job $job did not start again after scontrol requeue"
  for kept in "dataset data/datagen_pick_place_debug.h5 is complete: kept" \
              "training in runs/two_nodes/run is finished: kept" \
              "results runs/two_nodes/results.txt exist: kept"; do
    grep -q "$kept" "$log" || fail "the second start of job $job did not report '$kept'"
  done
  [ "$(grep -c "step train:" "$log")" = 1 ] || fail "the second start trained again"
  cmp runs/two_nodes/results.txt "$work/results.before" || fail "the results table changed"
  cmp "$(final_model runs/two_nodes)" "$work/model.before" || fail "the weights changed"
  echo "job $job requeued after completing: every step kept, results and weights unchanged"

  # The script as typed, nothing but the exported configs: 1 node, 2 ranks.
  job1=$(sbatch --parsable jobs/train_vla.slurm)
  slurm_wait "$job1"
  expect_state "$job1" COMPLETED
  log1=$(log_of "$job1")
  grep -q "2 rank(s) on 1 node(s)" "$log1" || fail "job $job1 did not run 2 ranks on 1 node"
  grep -q "dataset data/datagen_pick_place_debug.h5 is complete: kept" "$log1" ||
    fail "job $job1 made the dataset again"
  [ -f runs/vla_pick_place_debug/results.txt ] || fail "no results table from job $job1"
  echo "--- results table of 'sbatch jobs/train_vla.slurm':"
  cat runs/vla_pick_place_debug/results.txt
  same_losses runs/two_nodes runs/vla_pick_place_debug
  same_weights runs/two_nodes runs/vla_pick_place_debug
  echo "2 nodes x 1 rank == 1 node x 2 ranks: same losses, same final weights"

  # A config that does not exist: the job fails at once and says which file.
  bad=$(SIMSCALE_TRAIN_CONFIG=configs/no_such_config.yaml sbatch --parsable jobs/train_vla.slurm)
  slurm_wait "$bad"
  expect_state "$bad" FAILED
  grep -q "config 'configs/no_such_config.yaml' does not exist" "$(log_of "$bad")" ||
    fail "the failed job does not name the missing config"
  [ ! -d runs/no_such_config ] || fail "the failed job started work"
  ;;

preemption)
  # Long enough that the signal, sent after step 5, arrives during training on a fast machine.
  steps=150
  export SIMSCALE_TRAIN_ARGS="$train_args --steps $steps"
  reference=$(two_node_job runs/reference)
  slurm_wait "$reference"
  expect_state "$reference" COMPLETED
  for signal in USR1 TERM; do
    job=$(two_node_job "runs/$signal")
    wait_for_steps "runs/$signal" 5
    if [ "$signal" = USR1 ]; then
      # What --signal=B:USR1@120 does two minutes before the time limit.
      scancel --signal=USR1 --batch "$job"
    else
      # What KillWait does to the job's steps: SIGTERM to every rank.
      scancel --signal=TERM "$job"
    fi
    slurm_wait "$job"
    expect_state "$job" COMPLETED
    log=$(log_of "$job")
    grep -q "preemption (SIG$signal): writing a checkpoint" "$log" ||
      fail "SIG$signal did not reach the training ranks"
    grep -q "requeueing job $job" "$log" || fail "job $job did not requeue itself"
    restarts=$(scontrol show job "$job" | grep -o 'Restarts=[0-9]*' | cut -d= -f2)
    [ "$restarts" = 1 ] || fail "job $job: expected 1 restart, got $restarts"
    grep -q "dataset data/datagen_pick_place_debug.h5 is complete: kept" "$log" ||
      fail "the requeued job made the dataset again"
    [ "$(grep -c "step evaluate:" "$log")" = 1 ] || fail "job $job evaluated more than once"
    same_losses runs/reference "runs/$signal"
    same_weights runs/reference "runs/$signal"
    grep -E "received SIG|preemption \(|requeueing|start 2|kept|resum|rank 0/2 warn" "$log"
    echo "SIG$signal: checkpoint, exit 75, requeue, resume: same losses and final weights as" \
      "the uninterrupted run"
  done

  # Preempted while making the dataset: the requeued job continues the dataset from its last
  # complete round (--resume), and the dataset equals one made in one go (by a single process:
  # the content does not depend on the rank count).
  datagen_args="--episodes 24 --cameras agentview --set datagen.image_size=16
    --set datagen.episodes_per_round=2 --max-steps 60 --set datagen.only_successful=false
    --plots false --set log.progress_interval=0.001"
  # shellcheck disable=SC2086
  "$build/bin/datagen_mpi" --config "$SIMSCALE_DATAGEN_CONFIG" $datagen_args \
    --output "$work/uninterrupted.h5" --log.level warn >/dev/null ||
    fail "the uninterrupted dataset could not be made"
  job=$(SIMSCALE_DATASET=data/interrupted.h5 SIMSCALE_DATAGEN_ARGS="$datagen_args" \
        SIMSCALE_TRAIN_ARGS="$train_args --steps 5" two_node_job runs/datagen)
  # After the first committed round (a progress line per round), before the last.
  for _ in $(seq 1 1200); do
    grep -q "datagen: [0-9]*/24 episodes" "$(log_of "$job")" 2>/dev/null && break
    sleep 0.1
  done
  scancel --signal=USR1 --batch "$job"
  slurm_wait "$job"
  expect_state "$job" COMPLETED
  log=$(log_of "$job")
  grep -q "preempted during datagen (USR1); requeueing job $job" "$log" ||
    fail "job $job was not preempted during datagen"
  grep -q "step datagen: .* --resume" "$log" || fail "the requeued job did not resume the dataset"
  grep -q "resuming after episode [1-9]" "$log" ||
    fail "the requeued job did not continue after the committed rounds"
  grep -E "received SIG|requeueing|start 2|resuming after episode" "$log"
  same_store data/interrupted.h5 "$work/uninterrupted.h5"
  echo "SIGUSR1 during datagen: requeue, --resume; the dataset equals an uninterrupted one"
  ;;

lost_rank)
  steps=100000
  export SIMSCALE_TRAIN_ARGS="$train_args --steps $steps"
  job=$(two_node_job runs/lost)
  wait_for_steps runs/lost 3
  # Rank 1 (on simnode2) dies; rank 0 is left waiting in the gradient all-reduce.
  victim=""
  for environ in /proc/[0-9]*/environ; do
    pid=${environ#/proc/}
    pid=${pid%/environ}
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = train_ddp ] || continue
    vars=$(tr '\0' '\n' < "$environ" 2>/dev/null) || continue
    grep -qx "SLURM_JOB_ID=$job" <<< "$vars" && grep -qx "SLURM_PROCID=1" <<< "$vars" &&
      victim=$pid
  done
  [ -n "$victim" ] || fail "rank 1 of job $job not found"
  killed_at=$(date +%s)
  kill -KILL "$victim"
  for _ in $(seq 1 120); do
    [ -z "$(squeue -h -j "$job" 2>/dev/null)" ] && break
    sleep 0.5
  done
  ended=$(($(date +%s) - killed_at))
  [ -z "$(squeue -h -j "$job")" ] || fail "job $job still runs 60 s after losing a rank"
  expect_state "$job" FAILED
  log=$(log_of "$job")
  grep -q "simnode2: task 1: Killed" "$log" || fail "the log does not name the lost rank"
  ! grep -q "requeueing" "$log" || fail "a lost rank must not requeue the job"
  echo "rank 1 killed: job $job ended FAILED after ${ended} s; the log says:"
  sed -n '/Peer host/,$p' "$log"
  ;;
esac
echo "slurm nodes test ($mode) passed in $(($(date +%s) - start)) s"
