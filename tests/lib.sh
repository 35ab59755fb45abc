# Helpers for Peregrine's shell tests.  Source it first:
#   . "$(dirname "$0")/../tests/lib.sh"
# PEREGRINE_BIN is the binary under test (make check points it at the
# sanitizer build).

PEREGRINE_BIN=${PEREGRINE_BIN:-build/peregrine}

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"; }
need_cmd() { command -v "$1" >/dev/null 2>&1 || skip "needs $1"; }

# expect_fail "what" cmd...: the command must exit non-zero and say something.
expect_fail() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then fail "$what: succeeded: $*"; fi
	[ -n "$out" ] || fail "$what: no error message: $*"
	echo "ok: $what: $out"
}

# A lab prefix unique to this run: LETTER and four hex digits of the PID, so
# that two checkouts running the tests at once never share namespaces.
test_prefix() { printf '%s%04x' "$1" $(($$ & 0xffff)); }
