#!/bin/bash
# Run every Peregrine test and print one closing line: "N passed, N failed,
# N skipped".  Called by `make check` with the lists from the module.mk files:
#
#   ASAN_BIN   the sanitizer build directory (unit tests in $ASAN_BIN/tests/)
#   FUZZ_BIN   the fuzzer build directory
#   TESTS      unit test names (cmocka binaries): each case counts once, as
#              passed, failed or skipped (cmocka's skip())
#   FUZZERS    libFuzzer targets: each runs over its corpus, counts once
#   SH_TESTS   shell tests: exit 0 passes, 77 skips, anything else fails
#
# FILTER=regex runs only the tests whose name matches.
set -u
cd "$(dirname "$0")/.."

passed=0 failed=0 skipped=0
failures=()
log_dir=${ASAN_BIN:-build/asan}/test-logs
mkdir -p "$log_dir"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export PEREGRINE_BIN=${PEREGRINE_BIN:-$ASAN_BIN/peregrine}
abs_log_dir=$(cd "$log_dir" && pwd)	# daemons run elsewhere: log_path must be absolute
. tests/lib.sh				# sanitizer_reports

want() { [ -z "${FILTER:-}" ] || [[ $1 =~ $FILTER ]]; }

# cmocka prints "[  PASSED  ] N test(s).", "[  FAILED  ] N test(s)" and
# "[  SKIPPED ] N test(s), listed below:" (each skipped case is also listed on
# a "[  SKIPPED ] name" line, which a name cannot be mistaken for: it does not
# start with a digit).
cmocka_count() { sed -n "s/^\[  $1 *\] \([0-9][0-9]*\) test.*/\1/p" "$2" | tail -1; }

run_unit() {
	local t=$1 log="$log_dir/$(echo "$1" | tr / _).log" p f s rc
	timeout 600 "$ASAN_BIN/tests/$t" >"$log" 2>&1
	rc=$?
	p=$(cmocka_count PASSED "$log")
	f=$(cmocka_count FAILED "$log")
	s=$(cmocka_count SKIPPED "$log")
	p=${p:-0} f=${f:-0} s=${s:-0}
	if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi   # crashed or sanitizer
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if [ "$f" -ne 0 ]; then
		failures+=("$t (log: $log)")
		printf 'FAIL %-40s %d passed, %d failed, %d skipped\n' "$t" "$p" "$f" "$s"
		grep -E '^\[  (FAILED|ERROR)|ERROR: |runtime error|Assertion|FAIL' "$log" | head -20 | sed 's/^/     /'
	elif [ "$s" -ne 0 ]; then
		printf 'ok   %-40s %d passed, %d skipped\n' "$t" "$p" "$s"
	else
		printf 'ok   %-40s %d passed\n' "$t" "$p"
	fi
}

# A fuzzer's run: every corpus file, then 10 s of fresh mutations.  Its
# exit status goes to LOG.rc, so that fuzzers can run side by side.
fuzz_one() {
	local f=$1 log=$2 corpus=$3
	timeout 120 "$FUZZ_BIN/$f" -max_total_time=10 -timeout=10 \
		"$(mktemp -d)" "$corpus" >"$log" 2>&1
	echo $? >"$log.rc"
}

fuzz_log() { echo "$log_dir/$(echo "$1" | tr / _).log"; }
fuzz_corpus() { echo "$(dirname "$1")/corpus/$(basename "$1")"; }

# Fuzzers are CPU-bound and independent: run FUZZ_JOBS of them at a time
# (default: one per CPU), then report them in order.
run_fuzzers() {
	local f log jobs=${FUZZ_JOBS:-$(nproc)} running=0
	for f in "$@"; do
		[ -d "$(fuzz_corpus "$f")" ] || continue
		log=$(fuzz_log "$f"); rm -f "$log.rc"
		if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
		fuzz_one "$f" "$log" "$(fuzz_corpus "$f")" &
		running=$((running + 1))
	done
	wait
	for f in "$@"; do report_fuzz "$f"; done
}

report_fuzz() {
	local f=$1 log corpus
	log=$(fuzz_log "$f"); corpus=$(fuzz_corpus "$f")
	if [ ! -d "$corpus" ]; then
		failed=$((failed + 1)); failures+=("$f (no corpus at $corpus)")
		printf 'FAIL %-40s no corpus at %s\n' "$f" "$corpus"
		return
	fi
	if [ "$(cat "$log.rc" 2>/dev/null)" = 0 ]; then
		passed=$((passed + 1))
		printf 'ok   %-40s %s\n' "$f" "$(grep -o 'Done [0-9]* runs' "$log" | tail -1)"
	else
		failed=$((failed + 1)); failures+=("$f (log: $log)")
		printf 'FAIL %-40s\n' "$f"
		grep -E 'ERROR|SUMMARY' "$log" | head -5 | sed 's/^/     /'
	fi
	rm -f "$log.rc"
}

# A shell test's daemons log into $keep (tests/lib.sh: test_logs, sanitizer
# log_path, PEREGRINE_LAB_SAVE_LOGS); a sanitizer report there or in the
# test's output fails the test, whatever its exit status, and $keep stays.
run_shell() {
	local t=$1 log="$log_dir/$(echo "$1" | tr / _).log" rc reports
	local keep="$abs_log_dir/$(echo "$1" | tr / _)" t0=$SECONDS took

	rm -rf "$keep"
	mkdir -p "$keep"
	PEREGRINE_TEST_LOGS=$keep PEREGRINE_LAB_SAVE_LOGS=$keep \
	ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$keep/sanitizer" \
	UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$keep/sanitizer" \
		timeout 900 bash "$t" >"$log" 2>&1
	rc=$?
	took="$((SECONDS - t0)) s"	# the suite has a time budget (docs/building.md)
	if reports=$(sanitizer_reports "$keep" "$log"); then
		failed=$((failed + 1)); failures+=("$t (sanitizer reports, logs: $keep/)")
		printf 'FAIL %-40s exit %d, %s, sanitizer reports:\n' "$t" "$rc" "$took"
		echo "$reports" | head -20 | sed 's/^/     /'
		return
	fi
	case $rc in
	0) passed=$((passed + 1)); printf 'ok   %-40s %s\n' "$t" "$took" ;;
	77) skipped=$((skipped + 1)); printf 'skip %-40s %s\n' "$t" "$(tail -1 "$log")" ;;
	*) failed=$((failed + 1)); failures+=("$t (log: $log, daemon logs: $keep/)")
	   printf 'FAIL %-40s exit %d, %s\n' "$t" "$rc" "$took"; tail -15 "$log" | sed 's/^/     /'
	   return ;;
	esac
	rm -rf "$keep"
}

for t in ${TESTS:-}; do want "$t" && run_unit "$t"; done
fuzzers=()
for f in ${FUZZERS:-}; do want "$f" && fuzzers+=("$f"); done
[ ${#fuzzers[@]} -eq 0 ] || run_fuzzers "${fuzzers[@]}"
for s in ${SH_TESTS:-}; do want "$s" && run_shell "$s"; done

if [ ${#failures[@]} -gt 0 ]; then
	echo
	echo "Failures:"
	printf '  %s\n' "${failures[@]}"
fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
