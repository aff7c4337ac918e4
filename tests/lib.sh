# What the test scripts share (sourced by tests/fault_injection.sh, tests/scale_out.sh and
# tests/example_your_model.sh).

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# poll SECONDS INTERVAL COMMAND...: runs COMMAND every INTERVAL seconds until it prints
# something, and prints that; fails after SECONDS.
poll() {
  local limit=$1 interval=$2 out="" tries n
  shift 2
  tries=$(awk -v l="$limit" -v i="$interval" 'BEGIN { printf "%d", l / i }')
  for ((n = 0; n < tries; ++n)); do
    out=$("$@")
    [[ -n $out ]] && { echo "$out"; return 0; }
    sleep "$interval"
  done
  fail "timed out after $limit s waiting for: $*"
}
