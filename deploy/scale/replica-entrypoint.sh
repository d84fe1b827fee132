#!/bin/sh
# A streaming replica of the `postgres` service: cloned with pg_basebackup on first start
# (-R writes standby.signal and primary_conninfo), then PostgreSQL as the image runs it.
set -e
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  until pg_isready -h postgres -U "$POSTGRES_USER"; do sleep 1; done
  export PGPASSWORD="$POSTGRES_PASSWORD"
  pg_basebackup -h postgres -U "$POSTGRES_USER" -D "$PGDATA" -R -X stream -c fast
  chmod 0700 "$PGDATA"
  chown -R postgres:postgres "$PGDATA"
fi
exec docker-entrypoint.sh postgres
