#!/bin/bash
# What the official postgres image's entrypoint does for compose files like ours: on an empty data directory,
# initdb with POSTGRES_USER / POSTGRES_PASSWORD, create POSTGRES_DB, accept password logins from anywhere;
# then run the server as the postgres user.
set -euo pipefail
if [[ "${1:-}" == postgres ]]; then
  mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA" && chmod 700 "$PGDATA"
  as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
  if [[ ! -s "$PGDATA/PG_VERSION" ]]; then
    user="${POSTGRES_USER:-postgres}"
    pwfile="$(mktemp)" && printf '%s\n' "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}" >"$pwfile" && chown postgres "$pwfile"
    as_postgres initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$pwfile"
    printf "listen_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    db="${POSTGRES_DB:-$user}"
    if [[ "$db" != postgres ]]; then
      as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
      as_postgres psql -v ON_ERROR_STOP=1 --username "$user" --dbname postgres -c "CREATE DATABASE \"$db\"" >/dev/null
      as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    fi
  fi
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$@"
fi
exec "$@"
