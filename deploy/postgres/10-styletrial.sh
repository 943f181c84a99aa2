#!/bin/sh
# Runs once, when the PostgreSQL volume is first created: the engine's own role and database, apart from
# Temporal's (which the temporal-schema job creates as the superuser). The password comes from the environment.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  --set=password="$STYLETRIAL_DB_PASSWORD" <<'SQL'
CREATE ROLE styletrial LOGIN PASSWORD :'password';
CREATE DATABASE styletrial OWNER styletrial;
SQL
