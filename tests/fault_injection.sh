#!/usr/bin/env bash
# Fault injection, as a hostile user would do it: the smoke experiment runs once as the
# reference, then again under each fault below, resumed where the fault needs it; every
# resulting database must equal the reference trial by trial and epoch by epoch
# (scripts/compare-databases.py). Exit 77 (CTest: skipped) without Fashion-MNIST.
#
#   tests/fault_injection.sh path/to/automl [scenario...]
#
# Scenarios: worker-before-claim, worker-mid-trial, warm-worker-mid-trial, engine-kill,
# worker-paused, sigint. A slot's worker lives across trials (docs/engine.md), so the faults hit
# long-lived workers; warm-worker-mid-trial kills one in a trial after its first.
set -euo pipefail
automl=$(realpath "$1")
shift
source_dir=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$source_dir/tests/lib.sh"  # fail, poll
experiment="$source_dir/experiments/smoke.yaml"
compare="$source_dir/scripts/compare-databases.py"
scenarios=("$@")
((${#scenarios[@]})) ||
  scenarios=(worker-before-claim worker-mid-trial warm-worker-mid-trial engine-kill worker-paused sigint)

if [[ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]]; then
  echo "skipped: Fashion-MNIST is not installed (scripts/setup.sh installs it)"
  exit 77
fi
work=$(mktemp -d)
export AUTOML_CACHE_DIR="$work/cache"  # placements measured here stay here
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# sql DB "SELECT ..." -> rows (empty when the database or its tables do not exist yet).
sql() { sqlite3 -readonly "file:$1?mode=ro" "$2" 2>/dev/null || true; }

# Starts the engine in the background on database $1 (further arguments go to `automl run`);
# sets $engine to its pid.
start_engine() {
  local db=$1
  shift
  "$automl" run "$experiment" --db "$db" --threads 1 "$@" >>"$db.log" 2>&1 &
  engine=$!
}

# Waits (at most $2 s, default 120) until `sql $db "$1"` prints something; prints it.
wait_for() { poll "${2:-120}" 0.05 sql "$db" "$1"; }

# The pid of a worker process of database $1, as soon as one exists.
first_worker() {
  for ((i = 0; i < 2400; ++i)); do
    local pid
    pid=$(pgrep -f -- "worker --db $1 " | head -n 1 || true)
    [[ -n $pid ]] && { echo "$pid"; return 0; }
    sleep 0.025
  done
  fail "no worker started"
}

# Runs the experiment to its end on database $1; fails unless it exits 0.
run_to_end() {
  local db=$1
  shift
  "$automl" run "$experiment" --db "$db" --threads 1 "$@" >>"$db.log" 2>&1 ||
    fail "automl run on $db exited $? ($(tail -n 3 "$db.log"))"
}

expect_equal() {
  python3 "$compare" "$work/reference.db" "$1" || fail "$2: the database differs from the reference"
  echo "ok: $2"
}

run_to_end "$work/reference.db"
# The reference itself ran trial after trial in one worker per slot.
[[ $(sql "$work/reference.db" "SELECT COUNT(*) > COUNT(DISTINCT worker) FROM trials") == 1 ]] ||
  fail "reference: every trial had a worker of its own"

for scenario in "${scenarios[@]}"; do
  db="$work/$scenario.db"
  case $scenario in
    worker-before-claim)
      # A worker killed before it claims its trial: an attempt, and the trial runs again.
      start_engine "$db"
      kill -9 "$(first_worker "$db")"
      wait "$engine" || fail "$scenario: automl run exited $? ($(tail -n 3 "$db.log"))"
      [[ $(sql "$db" "SELECT MAX(attempts) FROM trials") == 2 ]] ||
        fail "$scenario: the killed worker's trial was not run again"
      ;;
    worker-mid-trial)
      # A worker killed after it committed an epoch: it resumes from its checkpoint.
      start_engine "$db"
      worker=$(wait_for "SELECT worker FROM trials WHERE status = 'running' AND id IN
                         (SELECT trial_id FROM epochs WHERE epoch >= 1)")
      kill -9 "${worker##*:}"
      wait "$engine" || fail "$scenario: automl run exited $?"
      ;;
    warm-worker-mid-trial)
      # kill -9 of a worker that already finished a trial, in the middle of its next one: the
      # trial runs again (from its checkpoint) in a fresh worker, with the same results.
      start_engine "$db"
      worker=$(wait_for "SELECT worker FROM trials WHERE status = 'running' AND id IN
                         (SELECT trial_id FROM epochs WHERE epoch >= 1) AND worker IN
                         (SELECT worker FROM trials WHERE status IN ('done', 'crashed'))")
      kill -9 "${worker##*:}"
      wait "$engine" || fail "$scenario: automl run exited $? ($(tail -n 3 "$db.log"))"
      [[ $(sql "$db" "SELECT MAX(attempts) FROM trials") == 2 ]] ||
        fail "$scenario: the killed worker's trial was not run again"
      ;;
    engine-kill)
      # The engine killed mid-run (its workers die with it); the rerun requeues their trials.
      start_engine "$db"
      wait_for "SELECT 1 FROM trials WHERE status = 'done' LIMIT 1 OFFSET 1" >/dev/null
      wait_for "SELECT 1 FROM trials WHERE status = 'running'" >/dev/null
      kill -9 "$engine"
      wait "$engine" 2>/dev/null || true
      run_to_end "$db" --heartbeat-timeout 2
      ;;
    worker-paused)
      # A worker paused past the heartbeat timeout: requeued, killed, its trial runs again;
      # continuing it later changes nothing.
      start_engine "$db" --heartbeat-timeout 3
      worker=$(wait_for "SELECT worker FROM trials WHERE status = 'running' AND id IN
                         (SELECT trial_id FROM epochs WHERE epoch >= 0)")
      kill -STOP "${worker##*:}"
      sleep 6
      kill -CONT "${worker##*:}" 2>/dev/null || true
      wait "$engine" || fail "$scenario: automl run exited $? ($(tail -n 3 "$db.log"))"
      grep -q "went silent" "$db.log" || fail "$scenario: the paused worker was not noticed"
      ;;
    sigint)
      # Ctrl-C: the engine ends its workers, puts their trials back at once and exits 130;
      # the rerun resumes without waiting for a heartbeat timeout.
      start_engine "$db"
      wait_for "SELECT 1 FROM trials WHERE status = 'running' AND id IN
                (SELECT trial_id FROM epochs WHERE epoch >= 1)" >/dev/null
      kill -INT "$engine"
      status=0
      wait "$engine" || status=$?
      [[ $status == 130 ]] || fail "$scenario: automl run exited $status after SIGINT, not 130"
      [[ $(sql "$db" "SELECT status FROM experiments") == interrupted ]] ||
        fail "$scenario: the experiment is not marked interrupted"
      [[ -z $(sql "$db" "SELECT id FROM trials WHERE status = 'running'") ]] ||
        fail "$scenario: trials were left running"
      pgrep -f -- "worker --db $db " >/dev/null && fail "$scenario: workers were left running"
      run_to_end "$db" --heartbeat-timeout 600  # would hang for 10 minutes on a running trial
      ;;
    *) fail "unknown scenario $scenario" ;;
  esac
  expect_equal "$db" "$scenario"
done
echo "${#scenarios[@]} passed, 0 failed"
