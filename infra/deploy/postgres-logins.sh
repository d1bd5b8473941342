#!/bin/sh
# Run once by the postgres image on its first start (docker-entrypoint-initdb.d), as zs_owner:
# the services' groups (migration 0013 grants them; it leaves existing ones alone) and one login
# per service, a member of its group only. The passwords come from compose's environment.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v ingest="$INGEST_DB_PASSWORD" -v relay="$RELAY_DB_PASSWORD" \
    -v projector="$PROJECTOR_DB_PASSWORD" -v api="$API_DB_PASSWORD" <<'SQL'
CREATE ROLE zs_ingest NOLOGIN;
CREATE ROLE zs_relay NOLOGIN;
CREATE ROLE zs_projector NOLOGIN;
CREATE ROLE zs_api NOLOGIN;
CREATE ROLE zs_ingest_login LOGIN NOINHERIT PASSWORD :'ingest' IN ROLE zs_ingest;
CREATE ROLE zs_relay_login LOGIN NOINHERIT PASSWORD :'relay' IN ROLE zs_relay;
CREATE ROLE zs_projector_login LOGIN NOINHERIT PASSWORD :'projector' IN ROLE zs_projector;
CREATE ROLE zs_api_login LOGIN NOINHERIT PASSWORD :'api' IN ROLE zs_api;
SQL
