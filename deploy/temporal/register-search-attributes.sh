#!/bin/sh
# Run by create-namespace.sh: register the search attributes the workflow upserts
# (workflows/search_attributes.py; tests/e2e/test_compose.py keeps the two lists equal). Safe to run again.
set -eu
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
# A namespace just created takes a few seconds to reach every part of the server.
until temporal operator search-attribute list --namespace "$NAMESPACE" >/dev/null 2>&1; do
  echo "waiting for Temporal at $TEMPORAL_ADDRESS and namespace $NAMESPACE ..."
  sleep 2
done
# An attribute that already exists with the same type is not an error worth stopping for; the check
# below is what decides success.
temporal operator search-attribute create --namespace "$NAMESPACE" \
  --name StyleTrialStatus --type Keyword \
  --name CustomerId --type Keyword \
  --name CustomerTier --type Keyword \
  --name Region --type Keyword \
  --name PersonalShopper --type Keyword \
  --name TrialEndsAt --type Datetime \
  --name ReturnDeadline --type Datetime \
  --name NeedsAttention --type Bool \
  --name PiecesKept --type Int \
  --name PiecesReturned --type Int || true
registered="$(temporal operator search-attribute list --namespace "$NAMESPACE")"
for name in StyleTrialStatus CustomerId CustomerTier Region PersonalShopper TrialEndsAt ReturnDeadline \
  NeedsAttention PiecesKept PiecesReturned; do
  echo "$registered" | grep -q "$name" || { echo "search attribute $name is missing" >&2; exit 1; }
done
echo "search attributes registered in $NAMESPACE"
