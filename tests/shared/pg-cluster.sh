#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# A throwaway PostgreSQL cluster for tests, on 127.0.0.1 and a free port.
#
#   tests/shared/pg-cluster.sh start DIR   # initdb + pg_ctl start; prints the postgres:// URL
#   tests/shared/pg-cluster.sh stop DIR    # pg_ctl stop (fast); DIR may then be deleted
#
#   url=$(tests/shared/pg-cluster.sh start /tmp/synq-pg)
#   SYNQ_TEST_POSTGRES_URL=$url ctest -R tst_server
#   tests/shared/pg-cluster.sh stop /tmp/synq-pg
#
# Needs Debian's postgresql (initdb and pg_ctl under /usr/lib/postgresql/*/bin) and, for
# synq-server, libqt6sql6-psql. PostgreSQL refuses to run as root: as root, the cluster runs
# as the "postgres" user (made by the postgresql package) through runuser.
# Authentication is "trust" for connections from 127.0.0.1 only; user and database "synq".
set -eu

usage() {
    echo "usage: $0 start DIR | stop DIR" >&2
    exit 2
}

[ $# -eq 2 ] || usage
command=$1
dir=$2

bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
    echo "$0: no PostgreSQL server binaries (apt-get install postgresql)" >&2
    exit 1
fi

# Runs a command as the cluster's owner.
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A port nobody listens on now (bound and released at once; the tiny race is acceptable here).
free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0, Proto => "tcp",
                                      Listen => 1, ReuseAddr => 1) or die "bind: $!\n";
        print $s->sockport, "\n";'
}

case $command in
start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ -e "$dir/data" ]; then
        echo "$0: $dir/data exists; stop and remove it first" >&2
        exit 1
    fi
    if [ "$(id -u)" -eq 0 ]; then
        chown postgres "$dir"
        chmod 700 "$dir"
    fi
    as_owner "$bindir/initdb" -D "$dir/data" -U synq --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    started=
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" \
            start >"$dir/pg_ctl.log" 2>&1; then
            started=yes
            break
        fi
    done
    if [ -z "$started" ]; then
        cat "$dir/pg_ctl.log" "$dir/server.log" >&2 || true
        exit 1
    fi
    echo "$port" >"$dir/port"
    as_owner "$bindir/createdb" -h 127.0.0.1 -p "$port" -U synq synq
    echo "postgres://synq@127.0.0.1:$port/synq"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    fi
    ;;
*)
    usage
    ;;
esac
