#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what is missing, builds, starts synq-server on its embedded SQLite, and runs the
# Qt Quick to-do demo: two replicas side by side converging through the server. Without a
# display the demo plays a scripted scenario and prints what happened.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

work=$(mktemp -d /tmp/synq-demo.XXXXXX)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

echo "== starting synq-server"
./build/server/synq-server --listen 127.0.0.1:0 --database "sqlite:$work/server.sqlite" \
    > "$work/server.out" 2> "$work/server.err" &
server_pid=$!
url=""
for _ in $(seq 1 100); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/server.out" 2>/dev/null || true)
    [ -n "$url" ] && break
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "synq-server did not start:" >&2
    cat "$work/server.err" >&2
    exit 1
fi
echo "   listening on $url"

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
    export QT_QPA_PLATFORM=offscreen # no display: the scripted scenario
fi
echo "== todo-quick"
./build/examples/todo-quick/todo-quick --server "$url" --data "$work"
