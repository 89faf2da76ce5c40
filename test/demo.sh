#!/usr/bin/env bash
# `make demo`: install what is needed, build and install phleet, start a
# throwaway cluster in ./demo (as the postgres OS user, phleet and pg_cron
# preloaded) and run the walkthrough in test/demo.sql.
#   test/demo.sh         set up (again) and run the walkthrough
#   test/demo.sh stop    stop the demo cluster and delete it
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
bindir=/usr/lib/postgresql/15/bin
dir=$top/demo
port=${PHLEET_DEMO_PORT:-5488}
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
fi
if [ "${1:-}" = stop ]; then
    rm -rf "$dir"
    echo "demo cluster stopped and removed"
    exit 0
fi

[ "$(id -u)" -eq 0 ] && test/deps.sh
make -s PG_CONFIG=$bindir/pg_config >/dev/null
if [ "$(id -u)" -eq 0 ]; then make -s install PG_CONFIG=$bindir/pg_config >/dev/null; fi

rm -rf "$dir"
mkdir -p "$dir/sock"
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
as_pg "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
# a master key for pseudonyms, readable by the server's OS user only
as_pg sh -c "umask 077 && openssl rand -hex 32 > '$dir/data/phleet.key'"
cat >> "$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir/sock'
shared_preload_libraries = 'phleet,pg_cron'
cron.database_name = 'phleet_demo'
cron.host = '$dir/sock'
phleet.master_key_file = 'phleet.key'
CONF
as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
as_pg "$bindir/createdb" -h "$dir/sock" -p "$port" -U postgres phleet_demo
as_pg "$bindir/psql" -h "$dir/sock" -p "$port" -U postgres -X -q -v ON_ERROR_STOP=0 \
    -f test/demo.sql phleet_demo 2>&1
cat <<MSG

------------------------------------------------------------------------
The demo cluster is running. Keep playing:

  runuser -u postgres -- psql -h $dir/sock -p $port -U app_gateway phleet_demo
      SELECT phleet.enter('acme', for_session => true);
      SELECT * FROM leads;

  runuser -u postgres -- psql -h $dir/sock -p $port -U acme_app phleet_demo

Stop and delete it with: test/demo.sh stop
MSG
