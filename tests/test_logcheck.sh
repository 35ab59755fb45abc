#!/bin/bash
# The sanitizer-report check of tests/run.sh holds: a shell test whose
# daemons printed a sanitizer report fails, even when the test itself
# passed, and its logs are kept and named; a clean test passes and leaves
# nothing.  tests/run.sh is run on small tests written here:
#
#   clean.sh      a one-switch lab up and down                  -> ok, no logs kept
#   injected.sh   the same, with a fake AddressSanitizer line
#                 appended to its switchd's log before `down`   -> FAIL, lab-P.1/ kept
#   ubsan.sh      a daemon log of its own (test_logs) with a
#                 UBSan "runtime error:" line                   -> FAIL
#   leak.sh       a real sanitized program that leaks, its
#                 stderr thrown away (only log_path sees it)    -> FAIL
#
#   lab "P":  s1 -- h1   (switchd on s1; no RAS, no agent, no VMs)
#
# Nothing in this script's own output may match a sanitizer report: run.sh
# reads it too.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

# Report lines, assembled so that this file does not hold them verbatim.
san() { printf '==4242==ERROR: %sSanitizer: %s\n' "$1" "$2"; }
ubsan() { printf 'dir/dir.c:10:5: runtime %s: signed integer overflow\n' error; }

# ---- the checker alone ---------------------------------------------------------
mkdir "$tmp/d" "$tmp/d/sub"
printf 'info: serving\nwarn: dropped 3 datagrams (bad tag)\n' >"$tmp/d/clean.log"
if sanitizer_reports "$tmp/d" >/dev/null; then fail "a clean directory has reports"; fi
for kind in asan lsan ubsan; do
	case $kind in
	asan) san Address heap-use-after-free ;;
	lsan) san Leak "detected memory leaks" ;;
	ubsan) ubsan ;;
	esac >"$tmp/d/sub/$kind.log"
	out=$(sanitizer_reports "$tmp/d") || fail "$kind: report not found"
	[ "$(echo "$out" | wc -l)" = 1 ] || fail "$kind: not exactly one file named"
	[ "${out%%:*}" = "$tmp/d/sub/$kind.log" ] || fail "$kind: names the wrong file"
	rm "$tmp/d/sub/$kind.log"
	echo "ok: checker: a $kind report found and its file named"
done

# ---- run.sh on small tests ----------------------------------------------------------
need_root
need_cmd ip
P=$(readlink -f "$PEREGRINE_BIN")
X=$(test_prefix k)
lab_test() {	# lab_test NAME INJECT: a test script bringing a tiny lab up and down
	cat >"$tmp/$1.sh" <<EOF
set -eu
$(declare -f san)
export PEREGRINE_NO_RAS=1 PEREGRINE_NO_AGENT=1
trap '$P lab down --prefix $X >/dev/null 2>&1 || true' EXIT
$P lab up "$tmp/tiny.yaml" --prefix $X >/dev/null
$2
$P lab down --prefix $X >/dev/null
EOF
}
cat >"$tmp/tiny.yaml" <<EOF
topology:
  switches: [s1]
  servers: [h1]
  links: [[h1, s1]]
EOF
lab_test clean ":"
lab_test injected "san Address heap-use-after-free >>/run/peregrine/lab-$X/logs/s1.switchd.log"
cat >"$tmp/ubsan.sh" <<EOF
$(declare -f ubsan)
ubsan >>"\$PEREGRINE_TEST_LOGS/mydaemon.log"
EOF
tests=("$tmp/clean.sh" "$tmp/injected.sh" "$tmp/ubsan.sh")
if command -v gcc >/dev/null; then
	printf '#include <stdlib.h>\nint main(void) { void *volatile p = malloc(64); p = 0; return 0; }\n' \
		>"$tmp/leak.c"
	gcc -fsanitize=address -g "$tmp/leak.c" -o "$tmp/leak"
	printf '"%s" 2>/dev/null\n' "$tmp/leak" >"$tmp/leak.sh"
	tests+=("$tmp/leak.sh")
else
	echo "note: no gcc: the real LeakSanitizer report is not tried"
fi
run=$(ASAN_BIN="$tmp/asan" PEREGRINE_BIN="$P" FILTER= TESTS= FUZZERS= SH_TESTS="${tests[*]}" \
	tests/run.sh 2>&1) && fail "run.sh passed although reports were planted"
kept() { echo "$tmp/asan/test-logs/$(echo "$tmp/$1.sh" | tr / _)"; }
line() { echo "$run" | grep -F "$tmp/$1.sh" | head -1; }

line clean | grep -q "^ok " || fail "the clean lab test did not pass: $(line clean)"
[ ! -e "$(kept clean)" ] || fail "a clean pass kept its logs"
echo "ok: a clean lab test passes and keeps no logs"

line injected | grep -q "^FAIL .*exit 0, [0-9]* s, sanitizer reports" || fail "injected: $(line injected)"
f="$(kept injected)/lab-$X.1/s1.switchd.log"
[ -f "$f" ] || fail "the switchd log was not kept ($f)"
echo "$run" | grep -qF "$f: " || fail "the failure output does not name $f"
echo "ok: a report in a lab daemon's log fails the test; kept and named: ${f#"$tmp"/}"

line ubsan | grep -q "^FAIL .*sanitizer reports" || fail "ubsan: $(line ubsan)"
echo "$run" | grep -qF "$(kept ubsan)/mydaemon.log: " || fail "ubsan: file not named"
echo "ok: a report in a daemon log under test_logs fails the test"

if [ -e "$tmp/leak" ]; then
	line leak | grep -q "^FAIL .*sanitizer reports" || fail "leak: $(line leak)"
	ls "$(kept leak)"/sanitizer.* >/dev/null 2>&1 || fail "leak: no sanitizer.PID file"
	echo "ok: a real leak report, stderr discarded, reaches the log_path file and fails the test"
fi
echo "$run" | tail -1 | grep -q "^1 passed, $((${#tests[@]} - 1)) failed" || fail "totals: $(echo "$run" | tail -1)"
[ -z "$(ip netns list | grep "^$X-" || true)" ] || fail "the tiny labs left namespaces"
echo "ok: run.sh fails every test with a report and passes the clean one"
