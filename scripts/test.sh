#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what is missing, builds, and runs every test suite (all ctest labels but bench).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== tests"
cd build
ctest --output-on-failure --label-exclude bench --timeout 600 -j2
