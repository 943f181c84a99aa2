#!/bin/sh
# One-shot (the temporal-namespace service, admin-tools image): once the server answers, make sure the
# namespace exists with the retention the business needs, then register the workflow's search attributes.
# Safe to run on every `up`. The layout follows temporalio/samples-server compose/scripts/create-namespace.sh.
#
# Retention: how long Temporal keeps a closed trial's history (what support reads in the UI: every command,
# who sent it, every payment call). 400 days covers a year of client questions and card disputes after the
# longest trial. After that the history is deleted, and the engine's read model (which keeps every trial)
# still refuses a second trial for the same order.
set -eu
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_RETENTION:-400d}"
until temporal operator cluster health >/dev/null 2>&1; do
  echo "waiting for Temporal at $TEMPORAL_ADDRESS ..."
  sleep 2
done
if temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  temporal operator namespace update --namespace "$NAMESPACE" --retention "$RETENTION"
else
  temporal operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
fi
echo "namespace $NAMESPACE keeps closed histories for $RETENTION"
exec /bin/sh "$(dirname "$0")/register-search-attributes.sh"
