#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what is missing, builds, and runs every test suite (all ctest labels but bench):
# first with synq-server on SQLite (tst_server also on PostgreSQL), then the engine suites
# again with every synq-server on a throwaway PostgreSQL cluster on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
SYNQ_EXTRA_PACKAGES="postgresql libqt6sql6-psql" bash scripts/setup.sh

pgdir=$(mktemp -d /tmp/synq-pg.XXXXXX)
cleanup() { sh tests/shared/pg-cluster.sh stop "$pgdir" >/dev/null 2>&1 || true; rm -rf "$pgdir"; }
trap cleanup EXIT
echo "== starting a throwaway PostgreSQL cluster"
export SYNQ_TEST_POSTGRES_URL=$(sh tests/shared/pg-cluster.sh start "$pgdir")

cd build
echo "== tests"
ctest --output-on-failure --label-exclude bench --timeout 900 -j2
echo "== engine tests with synq-server on PostgreSQL"
SYNQ_TEST_BACKEND=postgres ctest --output-on-failure --label-regex engine --exclude-regex tst_server --timeout 900
