#!/usr/bin/env bash
# A throw-away single-node Slurm (slurmctld + slurmd + munged on this host), all of it under one
# directory, for tests.
#
#   slurm_cluster.sh start DIR   # DIR: a fresh (or empty) directory, e.g. from mktemp -d
#   source DIR/env.sh            # then sbatch / squeue / scontrol / scancel talk to this cluster
#   slurm_cluster.sh stop DIR    # scancel all, stop the daemons, remove DIR (idempotent)
#
# start exits 0 once the node is idle, or 77 (the test suite's "skip") with the reason and the daemons'
# log tails when Slurm cannot run here; whatever it had started is stopped again. Every wait is bounded.
# Environment knobs: SLURM_HARNESS_TIMEOUT (seconds to wait for the idle node, default 30),
# SLURM_HARNESS_KEEP=1 (stop leaves DIR in place, for post-mortems).
set -uo pipefail

SKIP=77
TIMEOUT=${SLURM_HARNESS_TIMEOUT:-30}

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
log() { echo "slurm_cluster: $*" >&2; }

# pid of a daemon from its pid file, if that process is alive
pid_of() {
  local f=$1 p
  [[ -s $f ]] || return 1
  p=$(head -n1 "$f" 2>/dev/null | tr -dc 0-9)
  [[ -n $p ]] && kill -0 "$p" 2>/dev/null && echo "$p"
}

# stop one daemon: TERM, wait up to 10 s, then KILL
stop_daemon() {
  local name=$1 p i
  for f in "$2"/"$name".pid "$2"/"$name".bgpid; do
    p=$(pid_of "$f") || continue
    kill -TERM "$p" 2>/dev/null
    for ((i = 0; i < 100; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then
      log "$name ($p) did not stop on TERM; killing it"
      kill -KILL "$p" 2>/dev/null
    fi
  done
}

cmd_stop() {
  local dir=$1
  [[ -d $dir ]] || return 0
  dir=$(cd "$dir" && pwd)
  if [[ ! -e $dir/.slurm_cluster ]]; then
    # never rm -rf a directory this script did not set up
    rmdir -- "$dir" 2>/dev/null && return 0
    log "stop: $dir is not a slurm_cluster.sh directory; leaving it alone"
    return 1
  fi
  if [[ -f $dir/slurm.conf ]] && pid_of "$dir/slurmctld.pid" >/dev/null; then
    SLURM_CONF=$dir/slurm.conf timeout 10 scancel --full --quiet --user="$(id -un)" >/dev/null 2>&1
    # give the steps a moment to be signalled before slurmd goes away
    for ((i = 0; i < 30; i++)); do
      [[ -z $(SLURM_CONF=$dir/slurm.conf timeout 5 squeue -h -t R,CG -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  stop_daemon slurmd "$dir"
  stop_daemon slurmctld "$dir"
  stop_daemon munged "$dir"
  # slurmstepds and job processes of this cluster that outlived slurmd: they carry SLURM_CONF=DIR/...
  # in their environment (slurmstepd from slurmd, jobs from sbatch) and, jobs, a SLURM_JOB_ID
  local p envf
  for envf in $(grep -lzxF "SLURM_CONF=$dir/slurm.conf" /proc/[0-9]*/environ 2>/dev/null); do
    p=${envf#/proc/}; p=${p%/environ}
    [[ $p == "$$" || $p == "$BASHPID" ]] && continue
    if grep -qz '^SLURM_JOB_ID=' "$envf" 2>/dev/null ||
       [[ $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") == slurmstepd* ]]; then
      kill -KILL "$p" 2>/dev/null
    fi
  done
  if [[ ${SLURM_HARNESS_KEEP:-0} == 1 ]]; then
    log "kept $dir"
  else
    rm -rf -- "$dir"
  fi
  return 0
}

# a free TCP port on 127.0.0.1 that is not in "$@"
free_port() {
  local p
  if command -v python3 >/dev/null; then
    for _ in 1 2 3 4 5; do
      p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])') || break
      [[ " $* " == *" $p "* ]] || { echo "$p"; return 0; }
    done
  fi
  for _ in $(seq 200); do
    p=$((20000 + RANDOM % 40000))
    [[ " $* " == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    echo "$p"; return 0
  done
  return 1
}

fail() { # reason...
  local dir=$DIR f
  log "cannot start Slurm here: $*"
  for f in munged slurmctld slurmd; do
    if [[ -s $dir/$f.log ]]; then
      echo "----- tail of $dir/$f.log -----" >&2
      tail -n 12 "$dir/$f.log" >&2
    fi
    # stderr: what came before the log file was opened (bad options, fatal errors)
    if [[ -s $dir/$f.out ]] && grep -qiE 'error|fatal|fail' "$dir/$f.out"; then
      echo "----- errors in $dir/$f.out -----" >&2
      grep -iE 'error|fatal|fail' "$dir/$f.out" | tail -n 5 >&2
    fi
  done
  SLURM_HARNESS_KEEP=${SLURM_HARNESS_KEEP:-0} cmd_stop "$dir"
  echo "SKIP: Slurm unavailable: $*" >&2
  exit $SKIP
}

cmd_start() {
  DIR=$1
  local bin
  for bin in munged munge unmunge slurmctld slurmd sbatch sinfo squeue scontrol scancel; do
    command -v "$bin" >/dev/null ||
      { echo "SKIP: $bin not installed (apt-get install slurm-wlm munge)" >&2; exit $SKIP; }
  done
  mkdir -p "$DIR" || { echo "SKIP: cannot create $DIR" >&2; exit $SKIP; }
  DIR=$(cd "$DIR" && pwd)
  if pid_of "$DIR/slurmctld.pid" >/dev/null || pid_of "$DIR/slurmctld.bgpid" >/dev/null; then
    log "a cluster already runs in $DIR"; exit 1
  fi
  if [[ -n $(ls -A "$DIR") ]]; then
    if [[ -e $DIR/.slurm_cluster ]]; then  # left over from an earlier run: clear it
      SLURM_HARNESS_KEEP=1 cmd_stop "$DIR" 2>/dev/null
      find "$DIR" -mindepth 1 -delete
    else
      log "$DIR is not empty; give start a new or empty directory"; exit 1
    fi
  fi
  touch "$DIR/.slurm_cluster"
  chmod 0711 "$DIR"  # munged wants its socket's directory searchable by all; nothing in it is listable
  trap 'fail "interrupted"' INT TERM

  local user host cpus memmb ctld_port slurmd_port
  user=$(id -un)
  host=$(hostname -s)
  cpus=$(nproc)
  # MemTotal in MiB, minus 10% and at least 512 MiB, so slurmd's own reading never falls short
  memmb=$(awk '/^MemTotal:/ {m = int($2 / 1024); r = int(m * 0.9); if (m - r < 512) r = m - 512; if (r < 100) r = 100; print r}' /proc/meminfo)
  ctld_port=$(free_port) || fail "no free TCP port"
  slurmd_port=$(free_port "$ctld_port") || fail "no free TCP port"
  mkdir -p "$DIR/state" "$DIR/spool"

  # --- munge: own key, socket, pid, log, seed ---
  dd if=/dev/urandom of="$DIR/munge.key" bs=1 count=1024 status=none || fail "cannot write the munge key"
  chmod 0400 "$DIR/munge.key"
  # --force: munged refuses root and some directory permissions without it
  munged --force --socket="$DIR/munge.sock" --key-file="$DIR/munge.key" --pid-file="$DIR/munged.pid" \
    --log-file="$DIR/munged.log" --seed-file="$DIR/munged.seed" </dev/null >"$DIR/munged.out" 2>&1 ||
    fail "munged did not start: $(tail -n 3 "$DIR/munged.out" | tr '\n' ' ')"
  local i
  for ((i = 0; i < 50; i++)); do [[ -S $DIR/munge.sock ]] && break; sleep 0.1; done
  [[ -S $DIR/munge.sock ]] || fail "munged made no socket"
  if ! munge -n -S "$DIR/munge.sock" 2>"$DIR/munge-test.err" | unmunge -S "$DIR/munge.sock" >/dev/null 2>>"$DIR/munge-test.err"; then
    fail "munge/unmunge round trip failed: $(tr '\n' ' ' <"$DIR/munge-test.err")"
  fi

  # --- slurm.conf ---
  local gres_lines=""
  if compgen -G "/dev/nvidia[0-9]*" >/dev/null; then
    local ngpu
    ngpu=$(compgen -G "/dev/nvidia[0-9]*" | wc -l)
    gres_lines="GresTypes=gpu"
    echo "Name=gpu File=/dev/nvidia[0-$((ngpu - 1))]" >"$DIR/gres.conf"
  fi
  cat >"$DIR/slurm.conf" <<EOF
# generated by tests/slurm/slurm_cluster.sh for a throw-away test cluster
ClusterName=automltest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=$user
SlurmdUser=$user
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$DIR/munge.sock
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
# finished jobs stay visible to squeue/scontrol this long (seconds); there is no accounting database
MinJobAge=3600
MaxArraySize=100001
MaxJobCount=100000
KillWait=5
InactiveLimit=0
Waittime=0
SlurmctldTimeout=30
SlurmdTimeout=60
$gres_lines
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$memmb State=UNKNOWN${gres_lines:+ Gres=gpu:$ngpu}
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  export SLURM_CONF=$DIR/slurm.conf

  # --- daemons: in the foreground (-D) in the background, stdio to files, our own pid files as well ---
  setsid slurmctld -D -f "$DIR/slurm.conf" </dev/null >"$DIR/slurmctld.out" 2>&1 &
  echo $! >"$DIR/slurmctld.bgpid"
  local until=$((SECONDS + TIMEOUT))
  while ((SECONDS < until)); do
    pid_of "$DIR/slurmctld.bgpid" >/dev/null || fail "slurmctld exited"
    timeout 5 scontrol ping 2>/dev/null | grep -q UP && break
    sleep 0.1
  done
  timeout 5 scontrol ping 2>/dev/null | grep -q UP || fail "slurmctld did not answer within ${TIMEOUT}s"

  setsid slurmd -D -N "$host" -f "$DIR/slurm.conf" </dev/null >"$DIR/slurmd.out" 2>&1 &
  echo $! >"$DIR/slurmd.bgpid"
  local state=""
  until=$((SECONDS + TIMEOUT))
  while ((SECONDS < until)); do
    pid_of "$DIR/slurmd.bgpid" >/dev/null || fail "slurmd exited"
    state=$(timeout 5 sinfo -h -N -n "$host" -o %t 2>/dev/null | head -n1)
    [[ $state == idle ]] && break
    sleep 0.2
  done
  [[ $state == idle ]] || fail "node $host not idle within ${TIMEOUT}s (state '${state:-none}'; $(timeout 5 scontrol show node "$host" 2>/dev/null | grep -o 'Reason=.*'))"

  cat >"$DIR/env.sh" <<EOF
# source this to talk to the test cluster in $DIR
export SLURM_CONF=$DIR/slurm.conf
# the munge socket reaches the clients through AuthInfo in slurm.conf; this is for munge(1)/unmunge(1)
export SLURM_TEST_MUNGE_SOCKET=$DIR/munge.sock
export SLURM_TEST_DIR=$DIR
export SLURM_TEST_NODE=$host
export SLURM_TEST_CPUS=$cpus
EOF
  trap - INT TERM
  log "up: node $host, $cpus CPUs, ${memmb} MiB, ports $ctld_port/$slurmd_port; source $DIR/env.sh"
  return 0
}

[[ $# -eq 2 ]] || usage
case $1 in
  start) cmd_start "$2" ;;
  stop) cmd_stop "$2" ;;
  *) usage ;;
esac
