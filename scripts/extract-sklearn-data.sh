#!/usr/bin/env bash
# Extracts scikit-learn's bundled diabetes table (442 patients, 10 features, 1 target) from the
# Debian package python3-sklearn into data/sklearn/diabetes.csv, with a header:
#   age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target
# It is the real regression table the trials tests train on. Idempotent: does nothing when the
# CSV is already there. Needs apt-get (the package is downloaded, not installed).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out_dir="$repo/data/sklearn"
out="$out_dir/diabetes.csv"
if [[ -s "$out" ]]; then
  echo "extract-sklearn-data: $out already present"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt's download user must be able to write here
cd "$work"
if ! apt-get download python3-sklearn >/dev/null 2>&1; then
  apt-get update -qq >/dev/null
  apt-get download python3-sklearn >/dev/null
fi
dpkg-deb -x python3-sklearn_*.deb root
data="$(find root -type d -path '*sklearn/datasets/data' | head -n 1)"
if [[ -z "$data" || ! -f "$data/diabetes_data_raw.csv.gz" || ! -f "$data/diabetes_target.csv.gz" ]]; then
  echo "extract-sklearn-data: diabetes_data_raw.csv.gz / diabetes_target.csv.gz not in the package" >&2
  exit 1
fi

mkdir -p "$out_dir"
cp "$data/diabetes_data_raw.csv.gz" "$data/diabetes_target.csv.gz" "$out_dir/"
# The raw files are space-separated, one row per patient, in the same order.
{
  echo "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target"
  paste -d ' ' <(zcat "$data/diabetes_data_raw.csv.gz") <(zcat "$data/diabetes_target.csv.gz") |
    awk '{ $1 = $1; gsub(/ /, ","); print }'
} >"$out.tmp"
rows=$(($(wc -l <"$out.tmp") - 1))
if [[ "$rows" -ne 442 ]]; then
  echo "extract-sklearn-data: expected 442 rows, got $rows" >&2
  exit 1
fi
mv "$out.tmp" "$out"
echo "extract-sklearn-data: wrote $out ($rows rows)"
