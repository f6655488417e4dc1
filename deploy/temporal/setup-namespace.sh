#!/bin/sh
# One-shot (docker-compose service `temporal-setup`, image temporalio/admin-tools): create the
# namespace and register the project's search attributes, so the Web UI can filter syncs by
# credential, company, tenant, trigger, status and data type from the first run on.
#
# Safe to run again, and usable against any cluster (needs only the `temporal` CLI):
#   TEMPORAL_ADDRESS=temporal.example.com:7233 TEMPORAL_NAMESPACE=default \
#     sh deploy/temporal/setup-namespace.sh
#
# The worker registers missing search attributes itself at start-up too
# (core.temporal.ensure_search_attributes); this step exists so the stack is ready before the
# first worker starts and for clusters where the worker's identity may not change them.
# The list below must match contracts/search_attributes.py (tests/deploy checks it).
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS is not set (host:port of the Temporal frontend)}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-720h}"
ATTEMPTS="${SETUP_ATTEMPTS:-60}"

t() {
  temporal --address "$TEMPORAL_ADDRESS" "$@"
}

retry() {
  n=0
  until "$@"; do
    n=$((n + 1))
    [ "$n" -lt "$ATTEMPTS" ] || { echo "gave up after $n attempts: $*" >&2; return 1; }
    sleep 1
  done
}

echo "waiting for Temporal at $TEMPORAL_ADDRESS"
retry t operator cluster health >/dev/null

if t operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $NAMESPACE exists"
else
  t operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
  echo "namespace $NAMESPACE created (retention $RETENTION)"
fi

ensure_search_attribute() {
  name=$1
  type=$2
  # A new namespace takes a moment to reach every cache: list until it answers.
  existing=$(retry t operator search-attribute list --namespace "$NAMESPACE")
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    retry t operator search-attribute create --namespace "$NAMESPACE" --name "$name" \
      --type "$type" >/dev/null
    echo "search attribute $name ($type) registered"
  fi
}

ensure_search_attribute StCredentialId Int
ensure_search_attribute StCompanyId Int
ensure_search_attribute StTenantId Keyword
ensure_search_attribute StSyncTrigger Keyword
ensure_search_attribute StSyncStatus Keyword
ensure_search_attribute StDataType Keyword
