#!/usr/bin/env bash
# Self-test of the single-node Slurm harness (tests/slurm/slurm_cluster.sh): starts a cluster in a
# temp dir, runs a throttled job array, cancels one array task mid-run, stops the cluster.
# Exit: 0 pass, 77 skip (Slurm cannot start here; the reason is printed), 1 failure.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CLUSTER=$HERE/slurm_cluster.sh
DIR=$(mktemp -d "${TMPDIR:-/tmp}/slurm-selftest.XXXXXX") || { echo "SKIP: mktemp failed"; exit 77; }
chmod 0711 "$DIR"  # munged wants the directories above its socket searchable
DEADLINE=$((SECONDS + ${SELFTEST_TIMEOUT:-240}))  # whole test, all waits together

cleanup() { "$CLUSTER" stop "$DIR"; }
trap cleanup EXIT
trap 'echo "selftest: interrupted"; exit 1' INT TERM HUP

say() { echo "selftest: $*"; }
die() { echo "FAIL: $*"; [[ -n ${SLURM_CONF:-} ]] && { squeue -t all -r 2>&1 | head -20; tail -n 20 "$DIR/slurmctld.log" "$DIR/slurmd.log" 2>/dev/null; }; exit 1; }

# wait_until SECONDS CMD...: poll CMD every 0.2 s, bounded by SECONDS and the test's deadline
wait_until() {
  local limit=$((SECONDS + $1)); shift
  ((limit > DEADLINE)) && limit=$DEADLINE
  while ((SECONDS < limit)); do
    "$@" && return 0
    sleep 0.2
  done
  "$@"
}

# state of array task JOB_TASK as slurmctld reports it (no accounting needed): squeue -t all keeps
# finished jobs for MinJobAge seconds (the harness sets 3600)
task_state() { timeout 10 squeue -h -r -t all -j "$1" -o %T 2>/dev/null | head -n1; }
array_active() { [[ -n $(timeout 10 squeue -h -r -j "$1" -t PD,CF,R,CG,S -o %i 2>/dev/null) ]]; }
array_done() { ! array_active "$1"; }
state_is() { [[ $(task_state "$1") == "$2" ]]; }

"$CLUSTER" start "$DIR/cluster"
rc=$?
if ((rc == 77)); then trap - EXIT; rm -rf "$DIR"; exit 77; fi
((rc == 0)) || die "slurm_cluster.sh start exited $rc"
# stop removes the cluster dir; the selftest's own files live next to it
cleanup() { "$CLUSTER" stop "$DIR/cluster"; rm -rf "$DIR"; }
# shellcheck disable=SC1091
source "$DIR/cluster/env.sh"
say "cluster up: $(sinfo -h -o '%P %a %D %T %c CPUs/node' | head -n1)"

# ---------- 1. a throttled array: --array=0-3%2 ----------
W=$DIR/a; mkdir -p "$W"
cat >"$W/job.sh" <<'EOF'
#!/bin/bash
echo "$SLURM_ARRAY_TASK_ID $(date +%s.%N)" >"$OUTDIR/out.$SLURM_ARRAY_TASK_ID"
sleep 2
date +%s.%N >>"$OUTDIR/out.$SLURM_ARRAY_TASK_ID"
EOF
job=$(OUTDIR=$W sbatch --parsable --array=0-3%2 --job-name=selftest-a --cpus-per-task=1 \
  --output="$W/slurm-%A_%a.out" --chdir="$W" "$W/job.sh") || die "sbatch failed"
job=${job%%;*}
say "submitted array job $job (0-3%2)"
wait_until 90 array_done "$job" || die "array $job not finished in time"
for t in 0 1 2 3; do
  s=$(task_state "${job}_$t")
  [[ $s == COMPLETED ]] || die "task ${job}_$t state '$s', expected COMPLETED"
  [[ -f $W/out.$t && $(head -n1 "$W/out.$t" | cut -d' ' -f1) == "$t" && $(wc -l <"$W/out.$t") -eq 2 ]] ||
    die "task $t output wrong: $(cat "$W/out.$t" 2>&1)"
done
# the most tasks running at once, from the start/end timestamps
overlap=$(for t in 0 1 2 3; do
  printf '%s 1\n%s -1\n' "$(head -n1 "$W/out.$t" | cut -d' ' -f2)" "$(sed -n 2p "$W/out.$t")"
done | sort -k1,1g -k2,2n | awk '{c += $2; if (c > m) m = c} END {print m}')
say "all 4 tasks COMPLETED, outputs right; at most $overlap ran at once"
((overlap <= 2)) || die "$overlap tasks ran at once despite %2"
if ((SLURM_TEST_CPUS >= 2 && overlap < 2)); then die "tasks ran one at a time on $SLURM_TEST_CPUS CPUs"; fi

# ---------- 2. scancel one array task while it runs ----------
W=$DIR/b; mkdir -p "$W"
cat >"$W/job.sh" <<'EOF'
#!/bin/bash
if [[ $SLURM_ARRAY_TASK_ID == 2 ]]; then n=60; else n=1; fi
sleep "$n" &
echo $! >"$OUTDIR/sleep.$SLURM_ARRAY_TASK_ID"
wait
echo done >"$OUTDIR/out.$SLURM_ARRAY_TASK_ID"
EOF
job=$(OUTDIR=$W sbatch --parsable --array=0-3%2 --job-name=selftest-b --output="$W/slurm-%A_%a.out" \
  --chdir="$W" "$W/job.sh") || die "sbatch failed"
job=${job%%;*}
say "submitted array job $job; task 2 sleeps 60 s"
wait_until 60 state_is "${job}_2" RUNNING || die "task ${job}_2 never ran (state '$(task_state "${job}_2")')"
wait_until 10 test -s "$W/sleep.2" || die "task 2 did not start its sleep"
scancel "${job}_2" || die "scancel ${job}_2 failed"
wait_until 30 state_is "${job}_2" CANCELLED || die "task ${job}_2 state '$(task_state "${job}_2")' after scancel"
wait_until 90 array_done "$job" || die "array $job not finished in time"
for t in 0 1 3; do
  s=$(task_state "${job}_$t")
  [[ $s == COMPLETED && -f $W/out.$t ]] || die "task ${job}_$t state '$s', expected COMPLETED with output"
done
[[ ! -f $W/out.2 ]] || die "cancelled task 2 ran to its end"
sp=$(cat "$W/sleep.2")
wait_until 15 bash -c "! kill -0 $sp 2>/dev/null" || die "task 2's process $sp survived scancel"
sc=$(timeout 10 scontrol show job "${job}_2" | grep -o 'JobState=[A-Z]*')
jc=$(grep -c "ArrayJobId=$job ArrayTaskId=2 " "$SLURM_TEST_DIR/jobcomp.txt" || true)
grep -q "JobState=CANCELLED .*ArrayJobId=$job ArrayTaskId=2 " "$SLURM_TEST_DIR/jobcomp.txt" ||
  die "jobcomp.txt has no CANCELLED record for ${job}_2"
say "scancel ${job}_2: squeue says CANCELLED, scontrol says $sc, jobcomp.txt has $jc record(s) for it, CANCELLED, its process is gone; tasks 0 1 3 COMPLETED"
say "sacct (no slurmdbd): $(timeout 10 sacct -j "$job" 2>&1 | head -n1)"
timeout 10 scontrol -o show job "$job" | tr ' ' '\n' | awk -F= '$1 == "JobId" || $1 == "ArrayJobId" || $1 == "ArrayTaskId" || $1 == "JobState" || $1 == "ExitCode" {l = l " " $0} $1 == "ExitCode" {print " " l; l = ""}'

"$CLUSTER" stop "$DIR/cluster" || die "stop failed"
[[ ! -e $DIR/cluster ]] || die "stop left $DIR/cluster"
say "cluster stopped"
echo "PASS"
exit 0
