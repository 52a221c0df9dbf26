#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what Synq needs on Debian bookworm (only what is missing) and configures + builds
# the project in ./build (SYNQ_BUILD_DIR, SYNQ_BUILD_TYPE and extra cmake arguments change
# that). Used by scripts/demo.sh, scripts/test.sh and scripts/test-sanitizers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    build-essential cmake ninja-build pkg-config tzdata
    qt6-base-dev libqt6sql6-sqlite qt6-declarative-dev qt6-declarative-dev-tools
    qml6-module-qtqml qml6-module-qtqml-workerscript qml6-module-qtqml-models qml6-module-qtcore
    qml6-module-qtquick qml6-module-qttest qml-qt6
    qml6-module-qtquick-controls qml6-module-qtquick-layouts qml6-module-qtquick-templates
    qml6-module-qtquick-window
    qt6-tools-dev qt6-l10n-tools qt6-httpserver-dev qt6-websockets-dev
    ${SYNQ_EXTRA_PACKAGES:-}
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

build_type="${SYNQ_BUILD_TYPE:-RelWithDebInfo}"
build_dir="${SYNQ_BUILD_DIR:-build}"
echo "== configuring and building ($build_type) in $build_dir/"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE="$build_type" "$@"
cmake --build "$build_dir" -j2
