# shellcheck shell=bash
# Sourced by the jobs/*.slurm scripts: what every SimScale batch job shares.
#   simscale_init                     logs where the job runs; installs the preemption traps
#   simscale_step NAME TOOL [ARGS]    runs TOOL on every rank of the job (srun --mpi=pmix, through
#                                     jobs/rank.sh); returns when it ends. After a preemption
#                                     signal, or when the tool exits 75 (checkpointed, preempted),
#                                     the job requeues itself and ends with 75; any other failure
#                                     ends the job with the tool's code.
#   simscale_workflow DATAGEN TRAIN EVAL
#                                     dataset (made or resumed unless complete) -> training
#                                     (resumed) -> evaluation -> results table; each finished part
#                                     is kept, so a requeued job continues where it stopped.
#   simscale_config VARIABLE DEFAULT  the config a variable names (or the default, inside the
#                                     repository); the job fails at once if the file is missing.
# Variables read (all optional): SIMSCALE_BIN (default build/bin of the repository),
# SIMSCALE_DATASET, SIMSCALE_OUTPUT, SIMSCALE_TASK, SIMSCALE_DATAGEN_ARGS, SIMSCALE_TRAIN_ARGS,
# SIMSCALE_EVAL_ARGS, SIMSCALE_LAUNCHER (srun or mpirun), SIMSCALE_SRUN_MPI (pmix) (see
# jobs/README.md).
# Expects $simscale_root (the repository) to be set by the sourcing script.

simscale_log() {
  printf '[%s %s job %s] %s\n' "$(date +%T)" "$(hostname -s)" "${SLURM_JOB_ID:-none}" "$*" >&2
}

simscale_die() {
  simscale_log "error: $*"
  exit 1
}

# The batch shell receives Slurm's signals (--signal=B:USR1@T before the time limit, SIGTERM when
# the job is preempted or cancelled); the ranks get SIGUSR1 (srun forwards it; srun itself answers
# SIGTERM by killing its tasks, so SIGTERM is never passed on as such).
simscale_on_signal() {
  simscale_preempted=$1
  simscale_log "received SIG$1: the ranks checkpoint and stop"
  if [ -n "${simscale_step_pid:-}" ]; then kill -USR1 "$simscale_step_pid" 2>/dev/null; fi
  return 0
}

simscale_init() {
  : "${SIMSCALE_BIN:=$simscale_root/build/bin}"
  export SIMSCALE_BIN
  # llvmpipe (CPU rendering) threads: none beyond the rank's own.
  export LP_NUM_THREADS=${LP_NUM_THREADS:-0}
  simscale_preempted=""
  simscale_step_pid=""
  trap 'simscale_on_signal USR1' USR1
  trap 'simscale_on_signal TERM' TERM
  local gpus=${SLURM_GPUS_PER_TASK:-${SLURM_GPUS_ON_NODE:-0}}
  simscale_log "start $((${SLURM_RESTART_COUNT:-0} + 1)) on ${SLURM_JOB_NODELIST:-$(hostname -s)}:" \
    "${SLURM_NTASKS:-1} rank(s) on ${SLURM_JOB_NUM_NODES:-1} node(s)," \
    "${SLURM_CPUS_PER_TASK:-1} CPU(s) per rank, GPUs: $gpus; tools from $SIMSCALE_BIN"
  [ -x "$SIMSCALE_BIN/train_ddp" ] ||
    simscale_die "no SimScale tools in '$SIMSCALE_BIN' (build them, or export SIMSCALE_BIN=DIR)"
}

simscale_requeue() {
  simscale_log "preempted during $1 (${simscale_preempted:-exit 75}); requeueing job" \
    "${SLURM_JOB_ID:-none}: it continues from here"
  if [ -n "${SLURM_JOB_ID:-}" ] && ! scontrol requeue "$SLURM_JOB_ID"; then
    simscale_log "scontrol requeue failed: submit the job again, it continues where it stopped"
  fi
  exit 75
}

simscale_step() {
  local name=$1 code
  shift
  simscale_log "step $name: $*"
  [ -n "$simscale_preempted" ] && simscale_requeue "$name"
  if [ "${SIMSCALE_LAUNCHER:-srun}" = mpirun ]; then
    # Open MPI's mpirun inside the allocation (it reads the nodes and tasks from Slurm, starts
    # its daemons with srun, forwards SIGUSR1 and ends the job when a rank dies).
    mpirun "$simscale_root/jobs/rank.sh" "$@" &
  else
    # --kill-on-bad-exit: a rank that dies takes the step down at once (its peers would
    # otherwise wait in their next collective until the time limit); srun names the failed
    # rank and host.
    srun --mpi="${SIMSCALE_SRUN_MPI:-pmix}" --kill-on-bad-exit=1 "$simscale_root/jobs/rank.sh" "$@" &
  fi
  simscale_step_pid=$!
  wait "$simscale_step_pid"
  code=$?
  # A trapped signal interrupts `wait` (code > 128) while srun still runs: wait again.
  while [ "$code" -gt 128 ] && kill -0 "$simscale_step_pid" 2>/dev/null; do
    wait "$simscale_step_pid"
    code=$?
  done
  simscale_step_pid=""
  if [ "$code" -eq 75 ] || [ -n "$simscale_preempted" ]; then simscale_requeue "$name"; fi
  if [ "$code" -ne 0 ]; then
    simscale_log "step $name failed (exit code $code); the job stops here"
    exit "$code"
  fi
  simscale_log "step $name done"
}

simscale_config() {
  local variable=$1 default=$2 value
  value=${!variable:-$simscale_root/$default}
  [ -f "$value" ] || simscale_die "config '$value' does not exist (export $variable=FILE to choose one)"
  echo "$value"
}

simscale_workflow() {
  local datagen_config=$1 train_config=$2 eval_config=$3
  local dataset=${SIMSCALE_DATASET:-data/$(basename "$datagen_config" .yaml).h5}
  local out=${SIMSCALE_OUTPUT:-runs/$(basename "$train_config" .yaml)}
  local task=() extra=()
  [ -n "${SIMSCALE_TASK:-}" ] && task=(--env "$SIMSCALE_TASK")
  mkdir -p "$(dirname "$dataset")" "$out" || simscale_die "cannot create '$out'"
  simscale_log "dataset $dataset, run $out/run, evaluation $out/eval, results $out/results.txt"

  # 1. The dataset: kept when complete (datagen renames NAME.partial to NAME only at the end),
  # continued from its last complete round when a NAME.partial is left, made otherwise.
  if [ -f "$dataset" ]; then
    simscale_log "dataset $dataset is complete: kept"
  else
    extra=()
    [ -e "$dataset.partial" ] && extra=(--resume)
    # shellcheck disable=SC2086  # the *_ARGS variables are word lists on purpose
    simscale_step datagen "$SIMSCALE_BIN/datagen_mpi" --config "$datagen_config" "${task[@]}" \
      --output "$dataset" "${extra[@]}" ${SIMSCALE_DATAGEN_ARGS:-}
  fi

  # 2. Training: --resume continues from the newest complete checkpoint; a finished run (its
  # summary says it was not preempted) is not touched again.
  if grep -q '"preempted": false' "$out/run/summary.json" 2>/dev/null; then
    simscale_log "training in $out/run is finished: kept"
  else
    # shellcheck disable=SC2086
    simscale_step train "$SIMSCALE_BIN/train_ddp" --config "$train_config" --dataset "$dataset" \
      --output "$out/run" --resume ${SIMSCALE_TRAIN_ARGS:-}
  fi

  # 3. Evaluation and the results table: written once; an interrupted evaluation continues
  # (evaluate --resume keeps the episodes it finished).
  if [ -f "$out/results.txt" ]; then
    simscale_log "results $out/results.txt exist: kept"
  else
    if [ ! -f "$out/eval/results.json" ]; then
      # shellcheck disable=SC2086
      simscale_step evaluate "$SIMSCALE_BIN/evaluate" --config "$eval_config" "${task[@]}" \
        --policy "$out/run" --output "$out/eval" --resume ${SIMSCALE_EVAL_ARGS:-} \
        > "$out/eval.table.tmp"
    fi
    {
      echo "SimScale results: job ${SLURM_JOB_ID:-none} on ${SLURM_NTASKS:-1} rank(s)," \
        "${SLURM_JOB_NUM_NODES:-1} node(s)"
      echo "dataset:    $dataset ($datagen_config)"
      echo "training:   $out/run ($train_config): $(tr -d '\n ' < "$out/run/summary.json" |
        grep -o '"steps":[0-9]*,"final_loss":[^,]*' | tr -d '"')"
      echo "evaluation: $out/eval ($eval_config)"
      echo
      cat "$out/eval.table.tmp" 2>/dev/null || sed 's/,/\t/g' "$out/eval/results.csv"
    } > "$out/results.txt.tmp" && mv "$out/results.txt.tmp" "$out/results.txt"
    rm -f "$out/eval.table.tmp"
    simscale_log "results table ($out/results.txt):"
    cat "$out/results.txt" >&2
  fi
}
