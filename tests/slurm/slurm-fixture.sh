#!/bin/bash
# A real single-node Slurm cluster on loopback for the slurm suite (and the benchmark): its
# own munged, slurmctld and slurmd (Debian's packages, installed with apt when missing), its
# own slurm.conf written for this machine, its own ports, state and logs.
#
#   slurm-fixture.sh start        start a cluster in SLURMFIX_DIR; prints "SLURM READY ..."
#                                 and writes SLURMFIX_DIR/env (export SLURM_CONF=...)
#   slurm-fixture.sh stop         cancel its jobs and stop its daemons (pid files only)
#   slurm-fixture.sh run CMD...   start, run CMD with SLURMFIX_DIR/env in its environment,
#                                 stop; exits with CMD's status
#
# Settings (environment):
#   SLURMFIX_DIR   state directory (default: a new one under $MFLOW_TEST_BUILD_ROOT/tests/slurm,
#                  else under /tmp). Removed by `run` unless SLURMFIX_KEEP=1 or CMD failed.
#   SLURMFIX_NO_INSTALL=1  never call apt-get (skip when Slurm is missing)
#   SLURMFIX_CPUS  CPUs of the node (default: nproc). More than the machine has makes a wider
#                  node than the hardware (slurmd's config_overrides), for throughput tests
#                  whose jobs mostly wait.
#
# Exit status 77 (meson: skipped), with the reason, when Slurm cannot be installed or does
# not come up on this machine.
set -uo pipefail

skip() { echo "slurm-fixture: SKIP: $*" >&2; exit 77; }
die() { echo "slurm-fixture: $*" >&2; exit 1; }

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
sbin() { if [ -x "/usr/sbin/$1" ]; then echo "/usr/sbin/$1"; else command -v "$1"; fi; }

install_slurm() {
  local need=()
  have slurmctld || need+=(slurmctld)
  have slurmd || need+=(slurmd)
  have sbatch || need+=(slurm-client)
  have munged || need+=(munge)
  [ ${#need[@]} -eq 0 ] && return 0
  [ "${SLURMFIX_NO_INSTALL:-0}" = 1 ] && skip "missing ${need[*]} and SLURMFIX_NO_INSTALL=1"
  [ "$(id -u)" = 0 ] || skip "missing ${need[*]}; install them as root (apt-get install ${need[*]})"
  command -v apt-get >/dev/null || skip "missing ${need[*]} and no apt-get to install them"
  echo "slurm-fixture: installing ${need[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q --no-install-recommends)
  if ! "${apt[@]}" install "${need[@]}" >/tmp/slurm-fixture-apt.log 2>&1; then
    apt-get -o DPkg::Lock::Timeout=600 update -q >>/tmp/slurm-fixture-apt.log 2>&1
    "${apt[@]}" install "${need[@]}" >>/tmp/slurm-fixture-apt.log 2>&1 ||
      skip "apt-get could not install ${need[*]} (see /tmp/slurm-fixture-apt.log)"
  fi
  # The packages' own services are not wanted: this fixture runs private daemons.
  have slurmctld && have slurmd && have sbatch && have munged || skip "Slurm is still missing after apt-get"
}

state_dir() {
  if [ -z "${SLURMFIX_DIR:-}" ]; then
    local base=${MFLOW_TEST_BUILD_ROOT:+$MFLOW_TEST_BUILD_ROOT/tests/slurm}
    base=${base:-/tmp}
    mkdir -p "$base"
    SLURMFIX_DIR=$(mktemp -d "$base/slurmfix.XXXXXX")
  fi
  mkdir -p "$SLURMFIX_DIR"/{state,spool}
  # slurmd and the jobs write logs here as root; make the tree reachable for everyone.
  chmod 755 "$SLURMFIX_DIR"
  export SLURMFIX_DIR
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Two free TCP ports on loopback, different from each other.
free_ports() {
  python3 - <<'EOF'
import socket
socks = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

start_munge() {
  local D=$SLURMFIX_DIR
  if alive "$D/munged.pid"; then return 0; fi
  local user=root
  [ "$(id -u)" = 0 ] && id munge >/dev/null 2>&1 && user=munge
  install -d -m 0755 "$D/munge"
  [ "$user" = munge ] && chown munge:munge "$D/munge"
  if [ ! -s "$D/munge/munge.key" ]; then
    dd if=/dev/urandom of="$D/munge/munge.key" bs=1024 count=1 2>/dev/null
    chmod 400 "$D/munge/munge.key"
    [ "$user" = munge ] && chown munge:munge "$D/munge/munge.key"
  fi
  local args=(--socket="$D/munge/munge.sock" --key-file="$D/munge/munge.key"
              --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log"
              --seed-file="$D/munge/munged.seed" --num-threads=2)
  local munged; munged=$(sbin munged)
  # As the munge user when there is one; as ourselves when that user cannot reach the state
  # directory (a private parent directory) or does not exist.
  if ! { [ "$user" = munge ] && setpriv --reuid=munge --regid=munge --init-groups "$munged" "${args[@]}" 2>>"$D/munge/start.log"; }; then
    [ "$user" = munge ] && chown -R "$(id -u):$(id -g)" "$D/munge"
    "$munged" --force "${args[@]}" 2>>"$D/munge/start.log" || { cat "$D/munge/start.log" >&2; return 1; }
  fi
  for _ in $(seq 1 50); do [ -S "$D/munge/munge.sock" ] && break; sleep 0.1; done
  [ -S "$D/munge/munge.sock" ] || return 1
  cp "$D/munge/munged.pid" "$D/munged.pid"
}

write_conf() {
  local D=$SLURMFIX_DIR ports node cpus mem user
  read -r -a ports <<<"$(free_ports)"
  node=$(hostname -s)
  cpus=${SLURMFIX_CPUS:-$(nproc)}
  mem=$(free -m | awk '/^Mem:/ {print $2}')
  mem=$((mem * 9 / 10))          # below what slurmd measures, or the node would drain
  user=$(id -un)
  # More CPUs than the machine has (SLURMFIX_CPUS, for the benchmark): slurmd must take the
  # configured count instead of draining the node.
  local overrides=
  [ "$cpus" -gt "$(nproc)" ] && overrides=SlurmdParameters=config_overrides
  cat >"$D/slurm.conf" <<EOF
# Written by tests/slurm/slurm-fixture.sh for one test run; nothing here is shared.
ClusterName=mflowtest
SlurmctldHost=$node(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.sock
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0,sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=256
ReturnToService=2
$overrides
MinJobAge=300
MaxArraySize=1001
MaxJobCount=20000
InactiveLimit=0
KillWait=2
Waittime=0
MessageTimeout=10
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=$node NodeAddr=127.0.0.1 NodeHostname=$node CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  echo "$node" >"$D/node"
}

start() {
  install_slurm
  state_dir
  local D=$SLURMFIX_DIR
  if ! alive "$D/slurmctld.pid"; then
    start_munge || { tail -5 "$D/munge/munged.log" >&2 2>/dev/null; skip "munged did not start"; }
    write_conf
  fi
  export SLURM_CONF=$D/slurm.conf
  local node; node=$(cat "$D/node")
  alive "$D/slurmctld.pid" || "$(sbin slurmctld)" -f "$SLURM_CONF" ||
    { tail -20 "$D/slurmctld.log" >&2; stop >/dev/null 2>&1; skip "slurmctld did not start"; }
  alive "$D/slurmd.pid" || "$(sbin slurmd)" -f "$SLURM_CONF" -N "$node" ||
    { tail -20 "$D/slurmd.log" >&2; stop >/dev/null 2>&1; skip "slurmd did not start"; }
  local ok=0
  for _ in $(seq 1 200); do
    if sinfo -h -n "$node" -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)'; then ok=1; break; fi
    sleep 0.1
  done
  if [ $ok != 1 ]; then
    sinfo -N 2>&1 >&2; tail -20 "$D/slurmctld.log" "$D/slurmd.log" >&2
    stop >/dev/null 2>&1
    skip "the Slurm node did not become idle within 20 s"
  fi
  {
    echo "export SLURM_CONF=$SLURM_CONF"
    echo "export SLURMFIX_DIR=$D"
    echo "export SLURMFIX_NODE=$node"
  } >"$D/env"
  echo "SLURM READY SLURM_CONF=$SLURM_CONF node=$node partition=debug dir=$D"
}

stopd() { # pidfile
  [ -f "$1" ] || return 0
  local p; p=$(cat "$1")
  if kill -0 "$p" 2>/dev/null; then
    kill "$p" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null
  fi
  rm -f "$1"
}

stop() {
  [ -n "${SLURMFIX_DIR:-}" ] || die "stop: SLURMFIX_DIR is not set"
  local D=$SLURMFIX_DIR
  export SLURM_CONF=$D/slurm.conf
  if alive "$D/slurmctld.pid"; then
    local jobs; jobs=$(squeue -h -o %i 2>/dev/null | tr '\n' ' ')
    [ -n "${jobs// /}" ] && scancel $jobs 2>/dev/null
    for _ in $(seq 1 100); do [ -z "$(squeue -h -t R,CG 2>/dev/null)" ] && break; sleep 0.05; done
  fi
  stopd "$D/slurmd.pid"
  stopd "$D/slurmctld.pid"
  stopd "$D/munged.pid"
  echo "SLURM DOWN $D"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  run)
    shift
    [ $# -gt 0 ] || die "run: give a command"
    start >&2 || exit $?
    # shellcheck disable=SC1091
    . "$SLURMFIX_DIR/env"
    "$@"
    rc=$?
    stop >&2
    if [ $rc = 0 ] && [ "${SLURMFIX_KEEP:-0}" != 1 ]; then rm -rf "$SLURMFIX_DIR"; fi
    [ $rc != 0 ] && echo "slurm-fixture: logs kept in $SLURMFIX_DIR" >&2
    exit $rc
    ;;
  *) echo "usage: $0 start|stop|run CMD..." >&2; exit 2 ;;
esac
