#!/usr/bin/env bash
# Runs jobs/pipeline.sh (datagen -> train -> evaluate as dependent sbatch jobs) on a local
# single-node Slurm cluster started for the test, and checks real outcomes: every job completes,
# the evaluation beats a random policy, and a failing first job cancels its dependents.
#   tests/jobs/slurm_pipeline_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/simscale-slurm-XXXXXX)
cleanup() {
  for f in "$work"/d.pid "$work"/ctld.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work"/{state,spool,log}
cat > "$work/slurm.conf" <<CONF
ClusterName=simscaletest
SlurmctldHost=localhost
SlurmctldPort=6917
SlurmdPort=6918
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=pmix
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF="$work/slurm.conf"
setsid /usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >"$work/log/ctld.out" 2>&1 </dev/null &
echo $! > "$work/ctld.pid"
setsid /usr/sbin/slurmd -D -N localhost -f "$SLURM_CONF" >"$work/log/d.out" 2>&1 </dev/null &
echo $! > "$work/d.pid"
for _ in $(seq 1 120); do
  [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break
  sleep 0.25
done
[ "$(sinfo -h -o %T)" = idle ] || { echo "the local Slurm cluster did not start"; cat "$work"/log/*; exit 1; }

wait_for() {  # job ids...: polls until none is pending or running (at most 10 minutes)
  for _ in $(seq 1 1200); do
    [ -z "$(squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  echo "jobs $* did not finish"; squeue; return 1
}
state_of() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }

cd "$work"
export SIMSCALE_BIN="$build/bin"
ids=$(bash "$src/jobs/pipeline.sh" "$src/configs/datagen_reach_debug.yaml" \
      "$src/configs/bc_reach_debug.yaml" "$src/configs/eval_reach_debug.yaml" "$work/out" \
      --ntasks=2 --time=15)
echo "submitted: $ids"
eval "$ids"
wait_for "$datagen" "$train" "$evaluate"
for job in "$datagen" "$train" "$evaluate"; do
  state=$(state_of "$job")
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
eval "$ids"
wait_for "$datagen" "$train" "$evaluate"
[ "$(state_of "$datagen")" = FAILED ] || { echo "datagen should have failed: $(state_of "$datagen")"; exit 1; }
for job in "$train" "$evaluate"; do
  [ "$(state_of "$job")" = CANCELLED ] || { echo "job $job should be cancelled: $(state_of "$job")"; exit 1; }
done
echo "slurm pipeline test passed"
