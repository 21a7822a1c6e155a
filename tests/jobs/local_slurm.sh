# shellcheck shell=bash
# Sourced by the Slurm tests: a local single-node Slurm cluster (slurmctld + slurmd, auth/none,
# no munge, no systemd), started in a scratch directory of the test and stopped by PID.
#   slurm_start WORK_DIR CTLD_PORT SLURMD_PORT   # exports SLURM_CONF; waits until the node is idle
#   slurm_stop WORK_DIR
#   slurm_wait JOB_ID...                         # until none is pending or running (10 minutes)
#   slurm_state JOB_ID                           # COMPLETED, FAILED, CANCELLED, ...
#   slurm_scratch_cluster CTLD_PORT SLURMD_PORT  # all of it for one test: sets $work (a new
#                                                # temporary directory), starts the cluster there
#                                                # and stops and removes it when the test exits

slurm_start() {
  local work=$1 ctld_port=$2 slurmd_port=$3
  mkdir -p "$work"/{state,spool,log}
  cat > "$work/slurm.conf" <<CONF
ClusterName=simscaletest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
# A requeued job waits cred_expire seconds before it may start again (default 120).
AuthInfo=cred_expire=10
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
# A requeued job is scheduled within seconds, not at the next 30-60 s scheduling pass.
SchedulerParameters=sched_interval=2,bf_interval=2
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
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && return 0
    sleep 0.25
  done
  echo "the local Slurm cluster did not start"; cat "$work"/log/*; return 1
}

slurm_stop() {
  local work=$1 f
  for f in "$work"/d.pid "$work"/ctld.pid; do
    if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null || true; fi
  done
  sleep 0.5
}

slurm_wait() {
  for _ in $(seq 1 1200); do
    [ -z "$(squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  echo "jobs $* did not finish"; squeue; return 1
}

slurm_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }

slurm_scratch_cluster() {
  work=$(mktemp -d /tmp/simscale-slurm-XXXXXX)
  trap 'slurm_stop "$work"; rm -rf "$work"' EXIT
  slurm_start "$work" "$1" "$2"
}
