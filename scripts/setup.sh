#!/usr/bin/env bash
# Installs everything the engine needs from Debian 12's packages. Idempotent; run as root.
# Nothing is downloaded from anywhere but Debian's archive.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-pthread
  libsqlitecpp-dev libsqlite3-dev sqlite3 python3 procps  # python3, pgrep: tests/fault_injection.sh
  libyaml-cpp-dev libfmt-dev catch2 libboost-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev libbenchmark-dev
  dataset-fashion-mnist
  python3-torch python3-torchvision python3-pil  # tests' files written by Python; benchmark anchors
  python3-scipy                                 # bench/npeet_reference.py (NPEET's KSG, the anchor)
  python3-psycopg2 curl  # tests/scale_out.sh: compare-databases.py on PostgreSQL; the API
  libturbojpeg0-dev libpng-dev                   # image folders (JPEG, PNG)
  clang-format ccache
  postgresql libpqxx-dev  # PostgreSQL storage backend, and tests/postgres_fixture.sh's server
  chromium  # the HTML report's screenshot test (tests/test_report_html.cpp)
  slurm-wlm slurmctld slurmd slurm-client munge  # single-node Slurm for the tests (tests/slurm/slurm_cluster.sh)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup.sh: missing packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "setup.sh: all packages present"

# The real regression table (scikit-learn's diabetes data, from Debian's python3-sklearn package).
bash "$(dirname "$0")/extract-sklearn-data.sh"
bash "$(dirname "$0")/setup-browser.sh"  # puppeteer-core for the dashboard's browser test
