#!/usr/bin/env bash
# A throwaway PostgreSQL server for the storage tests and the claims benchmark.
#
#   postgres_fixture.sh start DIR [PORT]   initialise a cluster in DIR and start it; prints the URL
#                                          (also written to DIR/url)
#   postgres_fixture.sh stop DIR           stop it and remove DIR
#
# The server listens on a unix socket in DIR and on 127.0.0.1:PORT (a free port when none is
# given). Local (socket) connections are trusted; TCP ones need a password (scram-sha-256), so a
# test can try a wrong one. The URL's role, automl, may create databases and is no superuser; its
# database, automl, is its own (PostgreSQL 15 lets only a database's owner create tables in it).
# Run as root, the server runs as the unprivileged postgres user (runuser); otherwise as the
# caller. pg_stat_statements is loaded (and created in the postgres database) so that
# bench_claims can report the server's time per claim (in the automl database). Exits 77 (CTest: skipped) when
# PostgreSQL's binaries are missing.
set -euo pipefail

bin=/usr/lib/postgresql/15/bin
command=${1:-}
dir=${2:-}
[[ -n $command && -n $dir ]] || {
  echo "usage: $0 start DIR [PORT] | stop DIR" >&2
  exit 2
}

if [[ ! -x $bin/initdb || ! -x $bin/pg_ctl ]]; then
  echo "postgres_fixture.sh: skipped: $bin/initdb is missing (apt install postgresql)" >&2
  exit 77
fi

# Runs a PostgreSQL tool as the user the cluster belongs to.
as_owner() {
  if [[ $(id -u) -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

stop() {
  if [[ -f $dir/data/postmaster.pid ]]; then
    as_owner "$bin/pg_ctl" stop -D "$dir/data" -m fast -w > /dev/null || true
  fi
  rm -rf "$dir"
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local port=${1:-$(free_port)}
  stop  # a cluster a killed run left behind
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$dir"; fi
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    > "$dir/initdb.log" 2>&1 || {
    cat "$dir/initdb.log" >&2
    exit 1
  }
  if ! as_owner "$bin/pg_ctl" start -D "$dir/data" -l "$dir/server.log" -w -o \
    "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
     -c max_connections=300 -c shared_preload_libraries=pg_stat_statements" > /dev/null; then
    echo "postgres_fixture.sh: the server did not start (port $port busy?):" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
  as_owner "$bin/psql" -q -h "$dir" -p "$port" -U postgres -d postgres \
    -c "CREATE ROLE automl LOGIN CREATEDB" -c "CREATE DATABASE automl OWNER automl" > /dev/null
  as_owner "$bin/psql" -q -h "$dir" -p "$port" -U postgres -d automl \
    -c "CREATE EXTENSION pg_stat_statements" > /dev/null
  local url="postgresql://automl@/automl?host=$dir&port=$port"
  echo "$url" > "$dir/url"
  echo "$url"
}

case $command in
  start) start "${3:-}" ;;
  stop) stop ;;
  *)
    echo "usage: $0 start DIR [PORT] | stop DIR" >&2
    exit 2
    ;;
esac
