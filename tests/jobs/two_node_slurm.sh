# shellcheck shell=bash
# Sourced by the multi-node Slurm tests: a two-node Slurm cluster on one machine. slurmctld runs
# in the machine's own namespaces; each slurmd runs in a network namespace of its own (a veth pair
# onto a bridge the test creates, with an address that exists only there) and a UTS namespace of
# its own (hostname simnode1 / simnode2), with a private /tmp (the PMIx plugins of the two slurmd
# would otherwise share their /tmp/spmix_appdir_* directories). Needs root.
#   two_node_cluster PORT_BASE   # sets $work (a new directory outside /tmp, which the nodes see;
#                                # paths under /tmp the jobs need go in $two_node_keep),
#                                # exports SLURM_CONF and the Open MPI interface settings, starts
#                                # the cluster and waits until both nodes are idle; everything is
#                                # torn down (daemons by pid, namespaces, bridge, $work) on exit
#   PORT_BASE: slurmctld listens on PORT_BASE, the slurmd on PORT_BASE+1; the subnet and the
#   interface names are derived from it too, so tests with different ports never collide.
#   slurm_wait / slurm_state as in local_slurm.sh (sourced from there).

# shellcheck source=tests/jobs/local_slurm.sh
source "$(dirname "${BASH_SOURCE[0]}")/local_slurm.sh"

two_node_fail() {
  echo "two-node cluster: $*" >&2
  [ -n "${work:-}" ] && for log in "$work"/log/*; do
    [ -f "$log" ] && { echo "--- $log" >&2; tail -n 30 "$log" >&2; }
  done
  return 1
}

# Every process left in the nodes' namespaces, the namespaces, the bridge.
two_node_clear_network() {
  local ns
  for ns in "$two_node_ns1" "$two_node_ns2"; do
    # shellcheck disable=SC2046  # one pid per word
    kill -9 $(ip netns pids "$ns" 2>/dev/null) 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  ip link del "$two_node_bridge" 2>/dev/null || true
  return 0
}

two_node_teardown() {
  set +e
  local f
  # Jobs first (their processes outlive slurmd), then the daemons, then whatever is left in the
  # nodes' namespaces.
  scancel --quiet --user="$(id -un)" 2>/dev/null
  for _ in $(seq 1 40); do
    [ -z "$(squeue -h 2>/dev/null)" ] && break
    sleep 0.25
  done
  for f in "$work"/pids/*; do
    [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  sleep 0.5
  for f in "$work"/pids/*; do
    [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && kill -9 "$(cat "$f")" 2>/dev/null
  done
  two_node_clear_network
  [ -n "${SIMSCALE_KEEP_WORK:-}" ] || rm -rf --one-file-system "$work"
  return 0
}

two_node_cluster() {
  local base=$1 tool
  for tool in ip nsenter unshare slurmctld slurmd sbatch; do
    command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null 2>&1 ||
      two_node_fail "'$tool' is missing (scripts/setup.sh installs it)" || return 1
  done
  [ "$(id -u)" -eq 0 ] || { two_node_fail "needs root (network and UTS namespaces)"; return 1; }
  # Outside /tmp: each node mounts a private /tmp over it.
  work=$(mktemp -d /var/tmp/simscale-nodes-XXXXXX)
  mkdir -p "$work"/{state,log,pids,spoolsimnode1,spoolsimnode2}
  two_node_ns1="simscale${base}n1" two_node_ns2="simscale${base}n2" two_node_bridge="ssbr${base}"
  two_node_subnet="10.$((base / 256 % 200 + 20)).$((base % 256))"
  # Left over from a run of this test that was killed: the names are this test's own.
  two_node_clear_network
  trap 'two_node_teardown' EXIT
  trap 'exit 143' TERM INT
  # Network: a bridge (.1) in the machine's namespace, one veth pair per node (.11, .12).
  ip link add "$two_node_bridge" type bridge || { two_node_fail "cannot create a bridge"; return 1; }
  ip addr add "$two_node_subnet.1/24" dev "$two_node_bridge"
  ip link set "$two_node_bridge" up
  local k ns
  for k in 1 2; do
    ns="simscale${base}n$k"
    ip netns add "$ns" || { two_node_fail "cannot create network namespace $ns"; return 1; }
    ip link add "ssv${base}n$k" type veth peer name eth0 netns "$ns" ||
      { two_node_fail "cannot create a veth pair"; return 1; }
    ip link set "ssv${base}n$k" master "$two_node_bridge" up
    ip -n "$ns" addr add "$two_node_subnet.1$k/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
  done
  cat > "$work/slurm.conf" <<CONF
ClusterName=simscalenodes
SlurmctldHost=$(hostname -s)($two_node_subnet.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/none
CredType=cred/none
# A requeued job waits cred_expire seconds before it may start again (default 120).
AuthInfo=cred_expire=10
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/spool%n/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd-%n.log
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
KillWait=10
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
MinJobAge=600
NodeName=simnode1 NodeAddr=$two_node_subnet.11 CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
NodeName=simnode2 NodeAddr=$two_node_subnet.12 CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=nodes Nodes=simnode1,simnode2 Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
  export SLURM_CONF="$work/slurm.conf"
  # Open MPI between the nodes: TCP over the bridge only.
  export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include="$two_node_subnet.0/24"
  export OMPI_MCA_oob_tcp_if_include="$two_node_subnet.0/24"
  setsid slurmctld -D -i -f "$SLURM_CONF" >"$work/log/ctld.out" 2>&1 </dev/null &
  echo $! > "$work/pids/ctld"
  local keep path top
  for k in 1 2; do
    # The node's private /tmp hides the machine's; what the jobs need from there (a repository or
    # build directory under /tmp, listed in $two_node_keep) is bound back from a view of the
    # machine's /tmp taken before the tmpfs covers it.
    mkdir -p "$work/hold$k"
    keep=""
    for path in ${two_node_keep:-}; do
      case "$path" in
        /tmp/?*) top=${path#/tmp/}; top=${top%%/*}
                 keep+="mkdir -p '/tmp/$top' && mount --bind '$work/hold$k/$top' '/tmp/$top' && " ;;
      esac
    done
    # `ip netns exec` would remount /sys; nsenter joins only the network namespace.
    setsid nsenter --net="/run/netns/simscale${base}n$k" unshare --uts --mount \
        --propagation private sh -c "hostname simnode$k && mount --bind /tmp '$work/hold$k' &&
        mount -t tmpfs tmpfs /tmp && $keep exec slurmd -D -N simnode$k -f '$SLURM_CONF'" \
        >"$work/log/d$k.out" 2>&1 </dev/null &
    echo $! > "$work/pids/d$k"
  done
  local states=""
  for _ in $(seq 1 120); do
    states=$(sinfo -h -N -o '%N=%T' 2>/dev/null | sort | tr '\n' ' ')
    [ "$states" = "simnode1=idle simnode2=idle " ] && return 0
    sleep 0.25
  done
  two_node_fail "the nodes did not become idle within 30 s (sinfo: '${states:-no answer}')"
}
