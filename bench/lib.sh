# bench/lib.sh: the throwaway cluster of bench/pseudonym.sh and
# bench/vault_prune.sh.  Source it with PG_CONFIG, port and out set; it sets
# bindir and data, defines as_pg (run as the postgres OS user when root),
# bench_stop (also run on exit) and
#
#   bench_cluster_start [postgresql.conf line ...]
#
# which makes a new cluster in $out/data (UTF8, C.UTF-8, trust), with a
# master key file and phleet preloaded, listening only on $out/sock, and
# starts it.
bindir=$("$PG_CONFIG" --bindir)
data=$out/data
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
bench_stop() { [ -f "$data/postmaster.pid" ] && as_pg "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true; }
trap bench_stop EXIT

bench_cluster_start() {
    local line
    bench_stop
    rm -rf "$out"
    mkdir -p "$out/sock"
    [ "$(id -u)" -eq 0 ] && chown -R postgres: "$out"
    as_pg "$bindir/initdb" -D "$data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
    as_pg sh -c "umask 077 && openssl rand -hex 32 > '$data/phleet.key'"
    {
        echo "port = $port"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$out/sock'"
        echo "shared_preload_libraries = 'phleet'"
        echo "phleet.master_key_file = 'phleet.key'"
        echo "shared_buffers = 512MB"
        echo "max_wal_size = 4GB"
        for line in "$@"; do echo "$line"; done
    } >> "$data/postgresql.conf"
    as_pg "$bindir/pg_ctl" -D "$data" -l "$out/server.log" -w start >/dev/null
}
