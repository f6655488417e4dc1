#!/bin/sh
# Entry point of the compose stack's `postgres` service: refuse to start on a placeholder, short
# or shared password, then hand over to the postgres image's own entry point unchanged.
#
# Checked on every start, not only the first: deploy/postgres.env copied from its template
# without editing would otherwise run the stack on passwords published in this repository.
# The three passwords must differ, so Temporal's role and the product's role stay separate.
set -eu

MIN_LENGTH=16
refuse() {
  echo "postgres: refusing to start: $1 (deploy/postgres.env; see docs/operations.md," \
    "\"First start\")" >&2
  exit 1
}

seen=""
for name in POSTGRES_PASSWORD TEMPORAL_DB_PASSWORD APP_DB_PASSWORD; do
  eval "value=\${$name:-}"
  [ -n "$value" ] || refuse "$name is not set"
  lowered=$(printf '%s' "$value" | tr '[:upper:]' '[:lower:]')
  case "$lowered" in
    *change-me* | *changeme* | *replace-with* | *placeholder* | *example*)
      refuse "$name still holds the template's placeholder" ;;
  esac
  [ "${#value}" -ge "$MIN_LENGTH" ] || refuse "$name is shorter than $MIN_LENGTH characters"
  for other in $seen; do
    eval "other_value=\${$other}"
    [ "$value" != "$other_value" ] || refuse "$name is the same as $other"
  done
  seen="$seen $name"
done
unset value lowered other other_value seen

exec docker-entrypoint.sh "$@"
