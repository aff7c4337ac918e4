#!/usr/bin/env bash
# Claims at scale (docs/scale-out.md): bench_claims --both against a throwaway PostgreSQL server
# (tests/postgres_fixture.sh) and a SQLite file, side by side.
#
#   bash bench/claims.sh [BUILD_DIR] [bench_claims options: --workers 32 --trials 2000]
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
shift || true
bench=$build/bench/bench_claims
[[ -x $bench ]] || {
  echo "claims.sh: $bench is missing (ninja -C $build bench_claims)" >&2
  exit 1
}

dir=$(mktemp -d /tmp/automl-claims-pg.XXXXXX)
trap 'bash "$root/tests/postgres_fixture.sh" stop "$dir"' EXIT
url=$(bash "$root/tests/postgres_fixture.sh" start "$dir")
echo "PostgreSQL $(/usr/lib/postgresql/15/bin/postgres --version | awk '{print $3}') at $url;" \
  "$(nproc) cores"
"$bench" --both --postgres "$url" "$@"
