#!/usr/bin/env bash
# Runs the whole lit suite and the GoogleTest suite, then prints one summary line
# ("tessera: N passed, N failed, N skipped") and exits non-zero if anything failed.
set -uo pipefail
BUILD_DIR=${1:-build}
LIT=/usr/lib/llvm-22/bin/lit

lit_log=$(mktemp)
ctest_log=$(mktemp)
trap 'rm -f "$lit_log" "$ctest_log"' EXIT

echo "== lit suite"
"$LIT" -sv "$BUILD_DIR/test" 2>&1 | tee "$lit_log"
lit_rc=${PIPESTATUS[0]}

echo "== GoogleTest suite (ctest)"
ctest --test-dir "$BUILD_DIR" --output-on-failure 2>&1 | tee "$ctest_log"
ctest_rc=${PIPESTATUS[0]}

# Say why each skipped GoogleTest was skipped (GPU-only tests name the missing driver).
if [ -f "$BUILD_DIR/Testing/Temporary/LastTest.log" ]; then
  grep -A1 ": Skipped$" "$BUILD_DIR/Testing/Temporary/LastTest.log" | grep -v -e "^--$" -e ": Skipped$" \
    | sed 's/^/skipped: /' || true
fi

# lit prints e.g. "  Passed: 12", "  Failed: 1", "  Unsupported: 2".
count() { grep -E "^ *$1 *: *[0-9]+" "$2" | sed -E 's/.*: *([0-9]+).*/\1/' | tail -1; }
lit_pass=$(( $(count Passed "$lit_log" || true) + 0 ))
lit_xfail=$(( $(count "Expectedly Failed" "$lit_log" || true) + 0 ))
lit_fail=$(( $(count Failed "$lit_log" || true) + $(count "Unexpectedly Passed" "$lit_log" || true) + 0 ))
lit_skip=$(( $(count Unsupported "$lit_log" || true) + 0 ))

# ctest prints "100% tests passed, 0 tests failed out of 42"; skipped tests are listed as such.
ct_line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$ctest_log" | tail -1)
ct_fail=$(echo "$ct_line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
ct_total=$(echo "$ct_line" | sed -E 's/.* failed out of ([0-9]+).*/\1/')
ct_skip=$(grep -cE "\*\*\*Skipped|Not Run" "$ctest_log" || true)
ct_fail=$(( ${ct_fail:-0} + 0 )); ct_total=$(( ${ct_total:-0} + 0 )); ct_skip=$(( ${ct_skip:-0} + 0 ))
ct_pass=$(( ct_total - ct_fail - ct_skip ))

passed=$(( lit_pass + lit_xfail + ct_pass ))
failed=$(( lit_fail + ct_fail ))
skipped=$(( lit_skip + ct_skip ))
if [ "$lit_rc" -ne 0 ] && [ "$lit_fail" -eq 0 ]; then failed=$(( failed + 1 )); fi
if [ "$ctest_rc" -ne 0 ] && [ "$ct_fail" -eq 0 ]; then failed=$(( failed + 1 )); fi
if [ "$ct_total" -eq 0 ]; then echo "error: ctest ran no test"; failed=$(( failed + 1 )); fi

echo
summary="tessera: $passed passed, $failed failed, $skipped skipped"
echo "$summary" > "$BUILD_DIR/test-summary.txt"
echo "$summary"
[ "$failed" -eq 0 ]
