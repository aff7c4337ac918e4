#!/usr/bin/env bash
# What the dashboard's browser test (tests/browser/) needs: Node.js and npm from Debian's archive,
# and puppeteer-core from npm into tests/browser/node_modules (gitignored). puppeteer-core never
# downloads a browser: the test drives Debian's chromium. Idempotent; without network the test
# is skipped (exit 77) rather than setup failing.
set -euo pipefail
dir=$(cd "$(dirname "$0")/../tests/browser" && pwd)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup-browser.sh: node/npm missing; run as root to install them" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
fi

if [[ -d $dir/node_modules/puppeteer-core ]]; then
  echo "setup-browser.sh: puppeteer-core present"
  exit 0
fi
# --ignore-scripts: no install hook runs (and none downloads anything); the lock file pins versions.
if (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error); then
  echo "setup-browser.sh: puppeteer-core installed"
else
  echo "setup-browser.sh: npm could not install puppeteer-core; the browser test will be skipped" >&2
fi
