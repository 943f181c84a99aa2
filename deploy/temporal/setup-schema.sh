#!/bin/sh
# One-shot (the temporal-schema service, admin-tools image): create Temporal's two databases and bring their
# schemas to the version this server image needs, with temporal-sql-tool. Safe to run on every `up`: an
# existing database is kept, setup-schema -v 0.0 only creates the version table when it is missing, and
# update-schema applies only the versions not applied yet. The layout follows temporalio/samples-server
# compose/scripts/setup-postgres.sh; the schema folders ship inside the admin-tools image.
set -eu
: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${SQL_PASSWORD:?}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA_DIR="${SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"

until nc -z -w 5 "$POSTGRES_SEEDS" "$DB_PORT"; do
  echo "waiting for PostgreSQL at $POSTGRES_SEEDS:$DB_PORT ..."
  sleep 2
done

for db in temporal temporal_visibility; do
  case "$db" in
    temporal) versioned="$SCHEMA_DIR/temporal/versioned" ;;
    *) versioned="$SCHEMA_DIR/visibility/versioned" ;;
  esac
  # `create` fails when the database exists, which on a second `up` is the expected case.
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$db" create \
    || echo "database $db exists"
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$db" \
    setup-schema -v 0.0 || echo "schema version table of $db exists"
  temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_SEEDS" -p "$DB_PORT" -u "$POSTGRES_USER" --db "$db" \
    update-schema -d "$versioned"
done
echo "Temporal schemas are current"
