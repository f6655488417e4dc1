#!/bin/sh
# One-shot (docker-compose service `temporal-schema`, image temporalio/admin-tools): bring the
# schemas of Temporal's two databases in the stack's PostgreSQL up to the version of this
# admin-tools image. The databases and their owner, the `temporal` role, come from
# deploy/postgres/init-roles.sh; that role may not create databases, so this step does not.
# Safe to run again: `setup-schema -v 0.0` skips a database that already has a schema, and
# `update-schema` applies only newer versions. Upgrading the Temporal server = bump the
# admin-tools and server tags together and let this run first (docs/operations.md, "Upgrading").
set -eu

: "${POSTGRES_USER:?POSTGRES_USER is not set (Temporal's role, docker-compose.yml)}"
: "${POSTGRES_PWD:?POSTGRES_PWD is not set (deploy/temporal.env)}"
HOST="${POSTGRES_HOST:-postgres}"
PORT="${POSTGRES_PORT:-5432}"
SCHEMA_ROOT="${TEMPORAL_SCHEMA_ROOT:-/etc/temporal/schema/postgresql/v12}"

# temporal-sql-tool reads the password from the environment, so it is never an argument.
export SQL_PASSWORD="$POSTGRES_PWD"

echo "waiting for PostgreSQL at $HOST:$PORT"
tries=0
until nc -z "$HOST" "$PORT"; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "PostgreSQL did not answer at $HOST:$PORT" >&2; exit 1; }
  sleep 1
done

setup() {
  database=$1
  schema_dir=$2
  tool() {
    temporal-sql-tool --plugin postgres12 --ep "$HOST" -p "$PORT" -u "$POSTGRES_USER" \
      --db "$database" "$@"
  }
  tool setup-schema -v 0.0
  tool update-schema -d "$schema_dir"
  echo "database $database: schema up to date"
}

setup temporal "$SCHEMA_ROOT/temporal/versioned"
setup temporal_visibility "$SCHEMA_ROOT/visibility/versioned"
