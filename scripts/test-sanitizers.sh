#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The safety net: every test suite (all ctest labels but bench) built with AddressSanitizer and
# UndefinedBehaviorSanitizer in build-asan/, synq-server on SQLite. Any report fails the run:
# UBSan stops at the first finding, ASan at the first error, and LeakSanitizer reports leaks
# of the project's own code (tests/shared/lsan.supp lists the third-party ones it must ignore).
set -euo pipefail
cd "$(dirname "$0")/.."

flags="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
# Qt's QML tools are not instrumented: the runtimes are preloaded into them (tests/qml).
preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
SYNQ_BUILD_DIR=build-asan SYNQ_BUILD_TYPE=Debug bash scripts/setup.sh \
    -DCMAKE_CXX_FLAGS="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
    -DSYNQ_SANITIZER_PRELOAD="$preload" \
    -DSYNQ_BUILD_BENCH=OFF

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/shared/lsan.supp:print_suppressions=0"

cd build-asan
echo "== tests under AddressSanitizer and UndefinedBehaviorSanitizer"
# tst_install builds consumers of the installed package with the plain toolchain: it checks
# packaging, which the sanitizers have nothing to add to.
ctest --output-on-failure --label-exclude bench --exclude-regex 'tst_install' --timeout 1800 -j2
