#!/bin/sh
# Run once by the postgis/postgis image when it creates its database (docker-compose.yml
# mounts this file into /docker-entrypoint-initdb.d). The image itself adds PostGIS.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c 'CREATE EXTENSION IF NOT EXISTS postgis' \
    -c 'CREATE EXTENSION IF NOT EXISTS pg_trgm'
