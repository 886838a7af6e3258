#!/usr/bin/env bash
# test.sh: install, build, and run the whole test suite twice: a Release build and an
# AddressSanitizer + UndefinedBehaviorSanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
ooc_install_packages

status=0
ooc_build build/release
(cd build/release && ctest --output-on-failure -j2 --timeout 600) || status=1

ooc_build build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOOC_SANITIZE="address;undefined"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build/asan && ctest --output-on-failure -j2 --timeout 900 -LE bench) || status=1

exit $status
