#!/bin/bash
# tests/run.sh counts every cmocka case as passed, failed or skipped.  A tiny
# cmocka program, built here (it is not part of the suite), passes one case,
# skips two and fails one; the runner's summary must say so.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd cc
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

mkdir -p "$tmp/tests"
cat > "$tmp/t.c" <<'C'
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void t_pass(void **s) { (void)s; }
static void t_skip(void **s) { (void)s; skip(); }
static void t_fail(void **s) { (void)s; fail_msg("on purpose"); }

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_pass), cmocka_unit_test(t_skip),
		cmocka_unit_test(t_skip), cmocka_unit_test(t_fail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
C
cc -o "$tmp/tests/mixed" "$tmp/t.c" -lcmocka || skip "cannot build a cmocka program"

if out=$(ASAN_BIN=$tmp TESTS=mixed FUZZERS= SH_TESTS= FILTER= bash tests/run.sh 2>&1); then
	fail "run.sh exited 0 although a case failed"
fi
echo "$out"
[ "$(echo "$out" | tail -1)" = "1 passed, 1 failed, 2 skipped" ] || fail "summary: $(echo "$out" | tail -1)"
echo "$out" | grep -q '^FAIL mixed .*1 passed, 1 failed, 2 skipped' || fail "per-test line"
echo "ok: run.sh counts passed, failed and skipped cases"
