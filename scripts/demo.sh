#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what is missing, builds, and runs the main demo: optimistic edits that survive a
# restart (a first process edits offline; a second, new process finds every change).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== demo"
exec ./build/examples/offline-notes/offline-notes demo
