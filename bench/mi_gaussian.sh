#!/usr/bin/env bash
# Whole-process `automl mi` against NPEET (bench/npeet_reference.py) on the same CSV files:
# X ~ N(0, I_10), Y = 0.6 X + 0.8 noise (10 dimensions, each pair correlated 0.6), so the true
# MI is -10/2 ln(1 - 0.36) = 2.231 nats. Prints both estimates in nats, both wall times and
# their ratio.
#   bash bench/mi_gaussian.sh [--n 50000] [--automl build/automl] [--threads 0] [--reps 3]
# Needs Debian's python3-numpy and python3-scipy (/usr/bin/python3). Each program runs --reps
# times; the best wall time of each is compared (the machine may be shared).
set -euo pipefail

n=50000
automl=build/automl
threads=0
reps=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --n) n=$2; shift 2 ;;
    --automl) automl=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    *) echo "usage: $0 [--n N] [--automl PATH] [--threads T] [--reps R]" >&2; exit 2 ;;
  esac
done
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
[[ -x $automl ]] || { echo "$0: no executable $automl (build it, or pass --automl)" >&2; exit 1; }
$py -c 'import numpy, scipy' 2>/dev/null ||
  { echo "$0: $py lacks numpy/scipy: apt-get install -y python3-scipy" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
$py - "$n" "$work" <<'EOF'
import sys
import numpy as np
n, out = int(sys.argv[1]), sys.argv[2]
rng = np.random.default_rng(20261128)
x = rng.standard_normal((n, 10))
y = 0.6 * x + 0.8 * rng.standard_normal((n, 10))
# 17 significant digits: both programs read exactly the same doubles.
np.savetxt(f"{out}/x.csv", x, delimiter=",", fmt="%.17g")
np.savetxt(f"{out}/y.csv", y, delimiter=",", fmt="%.17g")
EOF

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
# best_of CMD...: runs CMD $reps times; prints the best wall seconds, keeps the last stdout.
best_of() {
  local best="" t0 t1 s
  for ((r = 0; r < reps; ++r)); do
    t0=$(now)
    "$@" >"$work/out.txt"
    t1=$(now)
    s=$(calc "$t1 - $t0")
    if [[ -z $best ]] || [[ $(calc "$s < $best") == 1 ]]; then best=$s; fi
  done
  echo "$best"
}

t_automl=$(best_of "$automl" mi --x "$work/x.csv" --y "$work/y.csv" --threads "$threads")
mi_automl=$(tail -n 1 "$work/out.txt")
t_npeet=$(best_of $py "$here/npeet_reference.py" "$work/x.csv" "$work/y.csv")
mi_npeet=$(awk '/^nats/ {print $2}' "$work/out.txt")
npeet_inner=$(head -n 1 "$work/out.txt")

truth=$(calc "-5 * log(1 - 0.36)")
printf 'mi_gaussian: n = %d, X 10 dims, Y = 0.6 X + 0.8 noise (10 dims), k = 3, best of %d\n' \
  "$n" "$reps"
printf '%-22s %12s %14s\n' "program" "wall s" "MI (nats)"
printf '%-22s %12.3f %14.6f\n' "automl mi" "$t_automl" "$mi_automl"
printf '%-22s %12.3f %14.6f\n' "NPEET (scipy cKDTree)" "$t_npeet" "$mi_npeet"
printf 'ratio NPEET / automl: %.1fx; |difference| %.2e nats; true MI %.6f nats\n' \
  "$(calc "$t_npeet / $t_automl")" "$(calc "($mi_automl - $mi_npeet)^2 ^ 0.5")" "$truth"
echo "NPEET's own timing of its mi() call (last run): $npeet_inner"
