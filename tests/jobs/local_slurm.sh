# Sourced by the Slurm tests: starts a single-node Slurm cluster (slurmctld + slurmd, no auth,
# state in a temporary directory $work) that is stopped and removed when the test exits, and
# defines wait_for JOB... and state_of JOB.
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
# A requeued job waits cred_expire seconds before it may start again (default 120).
AuthInfo=cred_expire=10
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

