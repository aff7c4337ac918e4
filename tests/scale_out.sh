#!/usr/bin/env bash
# Beyond one machine, for real: experiments/smoke.yaml on PostgreSQL with its trials run by
# workers the coordinator does not start itself, under a fault; every database must equal a
# local SQLite run of the same file, trial by trial and epoch by epoch
# (scripts/compare-databases.py).
#
#   tests/scale_out.sh path/to/automl [postgres] [slurm]
#
# postgres: `automl run --launcher none` coordinates; three `automl worker` processes, each in a
#   working directory of its own (standing in for hosts: their default checkpoints are not
#   shared), claim the trials; one is killed with SIGKILL in the middle of a trial.
# slurm: `automl run --launcher slurm --workers 3` on a single-node Slurm (tests/slurm/); one
#   array task is cancelled (scancel) in the middle of a trial.
# The PostgreSQL server is a throwaway one (tests/postgres_fixture.sh). Exit 77 (CTest:
# skipped) when Fashion-MNIST or PostgreSQL is missing, or when no scenario could run (Slurm
# cannot start here); a scenario that cannot run says why.
set -euo pipefail
automl=$(realpath "$1")
shift
source_dir=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tests/lib.sh
source "$source_dir/tests/lib.sh"  # fail, poll
experiment="$source_dir/experiments/smoke.yaml"
compare="$source_dir/scripts/compare-databases.py"
scenarios=("$@")
((${#scenarios[@]})) || scenarios=(postgres slurm)

skip() {
  echo "skipped: $*"
  exit 77
}

[[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]] ||
  skip "Fashion-MNIST is not installed (scripts/setup.sh installs it)"
command -v psql > /dev/null || skip "psql is missing (apt install postgresql)"
/usr/bin/python3 -c "import psycopg2" 2> /dev/null ||
  skip "python3-psycopg2 is missing (scripts/setup.sh installs it)"

work=$(mktemp -d /tmp/automl-scale-out.XXXXXX)
export AUTOML_CACHE_DIR="$work/cache"  # placements measured here stay here
chmod 755 "$work"  # the server runs as the postgres user
cluster=""
cleanup() {
  kill $(jobs -p) 2> /dev/null || true
  [[ -n $cluster ]] && bash "$source_dir/tests/slurm/slurm_cluster.sh" stop "$cluster" > /dev/null 2>&1
  bash "$source_dir/tests/postgres_fixture.sh" stop "$work/pg" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

server=$(bash "$source_dir/tests/postgres_fixture.sh" start "$work/pg") || {
  code=$?
  [[ $code -eq 77 ]] && skip "PostgreSQL cannot run here"
  fail "the PostgreSQL server did not start"
}

# A fresh database on the server; prints its URL.
new_database() {
  psql "$server" -qAt -c "CREATE DATABASE $1" > /dev/null
  sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$1#" <<< "$server"
}
# sql URL "SELECT ..." -> rows ('|'-separated); empty while the tables do not exist yet.
sql() { psql "$1" -qAt -c "$2" 2> /dev/null || true; }

# Waits (at most $3 s) until `sql $1 "$2"` prints something; prints it.
wait_for() { poll "${3:-300}" 0.2 sql "$1" "$2"; }

# A running trial that has committed an epoch: "id|worker" (worker = host:pid).
mid_trial() {
  wait_for "$1" "SELECT t.id || '|' || t.worker FROM trials t WHERE t.status = 'running' AND \
    EXISTS (SELECT 1 FROM epochs e WHERE e.trial_id = t.id AND e.epoch >= 1) LIMIT 1"
}

# Waits for the coordinator (pid $1) to end; fails unless it ended complete (exit 0).
wait_coordinator() {
  local code=0
  wait "$1" || code=$?
  ((code == 0)) || { tail -n 30 "$2"; fail "the coordinator exited $code"; }
}

same_as_reference() {
  /usr/bin/python3 "$compare" "$work/reference.db" "$1" || fail "$2 differs from the local run"
  echo "$2: identical to the local run"
}

echo "reference: a local run on SQLite"
"$automl" run "$experiment" --db "$work/reference.db" --threads 1 > "$work/reference.log" 2>&1 ||
  { tail -n 30 "$work/reference.log"; fail "the local run failed"; }
ran=0

scenario_postgres() {
  local url
  url=$(new_database scale_postgres)
  "$automl" run "$experiment" --db "$url" --threads 1 --launcher none --workers 3 \
    --heartbeat-timeout 5 > "$work/postgres.log" 2>&1 &
  local coordinator=$!
  local pids=()
  for host in 1 2 3; do
    mkdir -p "$work/host$host"
    (cd "$work/host$host" &&
      exec "$automl" worker --db "$url" --experiment smoke --idle-exit 30 --threads 1 \
        --heartbeat 0.5 > worker.log 2>&1) &
    pids+=($!)
  done
  local victim
  victim=$(mid_trial "$url")
  kill -9 "${victim#*|*:}"
  wait "${victim#*|*:}" 2> /dev/null || true  # one of this shell's jobs: no "Killed" notice
  echo "postgres: killed worker ${victim#*|} (SIGKILL) in trial ${victim%%|*}"
  wait_coordinator "$coordinator" "$work/postgres.log"
  kill "${pids[@]}" 2> /dev/null || true
  local attempts
  attempts=$(sql "$url" "SELECT attempts FROM trials WHERE id = ${victim%%|*}")
  ((attempts == 2)) || fail "the killed worker's trial ran $attempts time(s), expected 2"
  same_as_reference "$url" postgres
  readers_agree "$url"
  ran=$((ran + 1))
}

# automl query, report and serve read the PostgreSQL database as they read the SQLite file.
readers_agree() {
  local url=$1 view
  # Trial ids follow the order the stages planned their jobs in, which workers' timing may
  # change; what the trials recorded may not.
  local same_rows='import json, sys
ids = {"best_trial", "trial"} if sys.argv[1] in ("best", "results") else set()
a, b = ([{k: v for k, v in row.items() if k not in ids} for row in json.load(open(f))]
        for f in sys.argv[2:])
sys.exit(a != b)'
  for view in best results lrrt table-d; do
    /usr/bin/python3 -c "$same_rows" "$view" \
      <("$automl" query "$view" --db "$work/reference.db" --experiment smoke --format json) \
      <("$automl" query "$view" --db "$url" --experiment smoke --format json) ||
      fail "automl query $view differs between SQLite and PostgreSQL"
  done
  "$automl" report --db "$url" > "$work/report.txt" || fail "automl report on PostgreSQL failed"
  grep -q "MI-SGD" "$work/report.txt" || fail "automl report on PostgreSQL shows no MI-SGD"
  local port
  port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "$automl" serve --db "$url" --port "$port" > "$work/serve.log" 2>&1 &
  local server_pid=$! answer=""
  for ((i = 0; i < 50; ++i)); do
    answer=$(curl -sf "http://127.0.0.1:$port/api/best?experiment=smoke") && break
    sleep 0.2
  done
  kill "$server_pid" 2> /dev/null || true
  /usr/bin/python3 -c 'import json, sys; sys.exit(json.loads(sys.argv[1]) != json.load(sys.stdin))' \
    "$answer" < <("$automl" query best --db "$url" --experiment smoke --format json) ||
    fail "automl serve's /api/best on PostgreSQL differs from automl query best: $answer"
  echo "postgres: automl query, report and serve read it as they read SQLite"
}

scenario_slurm() {
  cluster="$work/slurm"
  local code=0
  bash "$source_dir/tests/slurm/slurm_cluster.sh" start "$cluster" > "$work/slurm-start.log" 2>&1 ||
    code=$?
  if ((code != 0)); then
    cluster=""
    ((code == 77)) || { cat "$work/slurm-start.log"; fail "Slurm did not start"; }
    echo "slurm: skipped: Slurm cannot run here: $(tail -n 3 "$work/slurm-start.log")"
    return
  fi
  source "$cluster/env.sh"
  local url
  url=$(new_database scale_slurm)
  mkdir -p "$work/coordinator"
  (cd "$work/coordinator" &&
    exec "$automl" run "$experiment" --db "$url" --threads 1 --launcher slurm --workers 3 \
      --heartbeat-timeout 5 --worker-idle-exit 60 > "$work/slurm.log" 2>&1) &
  local coordinator=$!
  local victim job task
  victim=$(mid_trial "$url")
  job=$(sed -n 's/^launcher slurm: job array \([0-9]*\) .*/\1/p' "$work/slurm.log" | head -1)
  [[ -n $job ]] || fail "the coordinator did not say which job array it submitted"
  task=$(tr '\0' '\n' < "/proc/${victim#*|*:}/environ" | sed -n 's/^SLURM_ARRAY_TASK_ID=//p')
  [[ -n $task ]] || fail "worker ${victim#*|} is not a task of the array"
  scancel "${job}_${task}"
  echo "slurm: cancelled array task ${job}_${task} (worker ${victim#*|}) in trial ${victim%%|*}"
  wait_coordinator "$coordinator" "$work/slurm.log"
  grep -q "cancelled what was left of job(s) $job" "$work/slurm.log" ||
    fail "the coordinator did not cancel its job array at the end"
  same_as_reference "$url" slurm
  ran=$((ran + 1))
}

for s in "${scenarios[@]}"; do
  case $s in
    postgres) scenario_postgres ;;
    slurm) scenario_slurm ;;
    *) fail "unknown scenario $s" ;;
  esac
done
((ran > 0)) || skip "no scenario could run here"
echo "PASS: ${scenarios[*]}"
