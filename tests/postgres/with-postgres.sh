#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL server, then stops and deletes the server.
#
#   tests/postgres/with-postgres.sh COMMAND [ARG...]
#
# Starts a PostgreSQL (15 on Debian 12) cluster in a temporary folder, listening on a free
# loopback port only, with a login role `stancewire` (password auth, CREATEDB) that owns a database
# `stancewire`, and runs COMMAND with
#
#   STANCEWIRE_TEST_POSTGRES_URI=postgres://stancewire@127.0.0.1:PORT/stancewire
#   PGPASSWORD=<the role's random password>
#
# so the password reaches libpq the way it does in a deployment. The exit status is COMMAND's, or
# 97 when the server cannot be started (a test that needs PostgreSQL must not pass without it).
#
# initdb and postgres refuse to run as root: as root the server runs as the `postgres` system user
# (Debian's postgresql package creates it) or, failing that, as a `stancewire-pg` user created
# here. Set STANCEWIRE_PG_BINDIR to use another installation's bin/ folder.
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 COMMAND [ARG...]" >&2
  exit 2
fi

log() { echo "with-postgres: $*" >&2; }
die() {
  log "$*"
  exit 97
}

bindir="${STANCEWIRE_PG_BINDIR:-}"
if [[ -z "$bindir" ]]; then
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
      bindir="$d"
      break
    fi
  done
fi
if [[ -z "$bindir" ]] && command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
  bindir="$(dirname "$(command -v initdb)")"
fi
[[ -n "$bindir" ]] || die "PostgreSQL server binaries not found (apt-get install postgresql)"

# Who runs the server.
as_user=()
if [[ $(id -u) -eq 0 ]]; then
  runner=postgres
  if ! id -u "$runner" >/dev/null 2>&1; then
    runner=stancewire-pg
    id -u "$runner" >/dev/null 2>&1 ||
      useradd --system --no-create-home --shell /usr/sbin/nologin "$runner" ||
      die "cannot create the user $runner to run PostgreSQL as"
  fi
  as_user=(runuser -u "$runner" --)
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/stancewire-pg.XXXXXX")"
chmod 700 "$tmp"
[[ ${#as_user[@]} -eq 0 ]] || chown "$runner" "$tmp"

server_started=0
cleanup() {
  local rc=$?
  if ((server_started)); then
    "${as_user[@]}" "$bindir/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
superpw="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$superpw" >"$tmp/superpw"
[[ ${#as_user[@]} -eq 0 ]] || chown "$runner" "$tmp/superpw"

# A UTF-8 database with a non-C locale when one exists, so that the store's bytewise ordering
# does not depend on the server's locale by accident.
locale_arg=(--locale=C.UTF-8)
if locale -a 2>/dev/null | grep -qix 'en_US.utf8'; then locale_arg=(--locale=en_US.UTF-8); fi

"${as_user[@]}" "$bindir/initdb" -D "$tmp/data" -U postgres --pwfile="$tmp/superpw" \
  --encoding=UTF8 "${locale_arg[@]}" --auth-local=trust --auth-host=scram-sha-256 \
  >"$tmp/initdb.log" 2>&1 || {
  cat "$tmp/initdb.log" >&2
  die "initdb failed"
}
mkdir -p "$tmp/sock"
[[ ${#as_user[@]} -eq 0 ]] || chown "$runner" "$tmp/sock"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port=""
for attempt in 1 2 3 4 5; do
  candidate="$(free_port)"
  if "${as_user[@]}" "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/server.log" -w -t 60 \
    -o "-p $candidate -c listen_addresses=127.0.0.1 -k $tmp/sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null 2>&1; then
    port="$candidate"
    server_started=1
    break
  fi
  log "start on port $candidate failed (attempt $attempt)"
  tail -n 5 "$tmp/server.log" >&2 2>/dev/null || true
done
[[ -n "$port" ]] || die "cannot start PostgreSQL"

psql_admin() {
  "${as_user[@]}" "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$tmp/sock" -p "$port" -U postgres \
    -d postgres "$@"
}
psql_admin -c "CREATE ROLE stancewire LOGIN CREATEDB PASSWORD '$password'" >/dev/null ||
  die "cannot create the stancewire role"
psql_admin -c "CREATE DATABASE stancewire OWNER stancewire" >/dev/null ||
  die "cannot create the stancewire database"

export STANCEWIRE_TEST_POSTGRES_URI="postgres://stancewire@127.0.0.1:$port/stancewire"
export PGPASSWORD="$password"
log "$("$bindir/postgres" --version) on 127.0.0.1:$port ($tmp)"

set +e
"$@"
rc=$?
set -e
exit "$rc"
