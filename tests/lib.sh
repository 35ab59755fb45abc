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

# ---- sanitizer reports of the daemons a test starts -------------------------
# tests/run.sh gives every shell test a directory of its own,
# build/asan/test-logs/TEST/ (TEST: the test's path with / as _), exported as
# PEREGRINE_TEST_LOGS, and points everything the test starts at it:
#   ASAN_OPTIONS/UBSAN_OPTIONS log_path=DIR/sanitizer: every sanitized process
#     writes its report to DIR/sanitizer.PID, wherever its stderr goes (gcc's
#     UBSan ignores log_path and keeps writing to stderr);
#   PEREGRINE_LAB_SAVE_LOGS=DIR: `lab down` copies the lab's daemon logs to
#     DIR/lab-P.N/ before it deletes the state directory.
# After the test, run.sh fails it if sanitizer_reports finds anything there
# or in the test's own output, and keeps the directory; a clean pass
# removes it.  docs/building.md.

# A daemon a test starts itself logs into test_logs's directory:
#   logs=$(test_logs "$tmp"); peregrine directory ... 2>>"$logs/ds.log"
# (the test's own scratch directory when it runs outside run.sh).
test_logs() { echo "${PEREGRINE_TEST_LOGS:-$1}"; }

SANITIZER_RE='(ERROR|WARNING): (Address|Leak|UndefinedBehavior|Thread|Memory)Sanitizer|runtime error:'

# sanitizer_reports PATH...: for every file under PATH (files or
# directories) holding a sanitizer report, print "FILE: first report line".
# Status 0 when it found one, 1 when there is none.
sanitizer_reports() {
	local f found=1

	while IFS= read -r -d '' f; do
		echo "$f: $(grep -m1 -aE -- "$SANITIZER_RE" "$f")"
		found=0
	done < <(grep -rlaEZ -- "$SANITIZER_RE" "$@" 2>/dev/null)
	return $found
}

# ---- labs without a RAS ------------------------------------------------------
# lab_tree_fib TOPO PREFIX: what the RAS would program, from the routing
# core: every server's primary MAC along tree 0 and its backup MAC along
# tree 1, on every switch of the lab PREFIX built from TOPO.
lab_tree_fib() {
	local sw rest fib

	fib=$("$PEREGRINE_BIN" topo routes "$1" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)
for sw, ents in d["fib"].items():
    args = []
    for e in ents:
        i = (int(e["owner"][3:]) + 1) * 2 + e["tree"]   # pgr_id_of(server + 1, tree)
        args += ["02:00:00:02:%02x:%02x" % (i >> 8, i & 255), str(e["port"])]
    print(sw, " ".join(args))') || return 1
	while read -r sw rest; do
		"$PEREGRINE_BIN" lab fib add "$sw" $rest --prefix "$2" >/dev/null || return 1
	done <<<"$fib"
}

# ---- ports -------------------------------------------------------------------
# udp_port: a UDP port on loopback that nothing holds now, chosen at random
# below the kernel's ephemeral range, so that no client socket of another
# program can be given it while a test's daemon restarts on it.
udp_port() {
	local lo _hi p
	read -r lo _hi </proc/sys/net/ipv4/ip_local_port_range
	[ "$lo" -gt 11024 ] || lo=11024
	for _ in $(seq 50); do
		p=$((10000 + (RANDOM * 32768 + RANDOM) % (lo - 10000)))
		[ -z "$(ss -Hanu "sport = :$p")" ] && { echo "$p"; return 0; }
	done
	fail "no free UDP port below $lo"
}

# awk program printing the ICMP echo requests a network namespace received
# (/proc/net/snmp's Icmp InEchos): what a ping that crossed a VDC would add,
# and nothing the agents send to their own VMs (IGMP/MLD queries, router
# advertisements).  Usage: ip netns exec NS awk "$IN_ECHOS_AWK" /proc/net/snmp
IN_ECHOS_AWK='$1 == "Icmp:" { if (!h) { for (i = 2; i <= NF; i++) if ($i == "InEchos") c = i; h = 1 } else print $c }'

# free_ports N: the first of N consecutive TCP ports on 127.0.0.1 that no
# socket uses, below the kernel's ephemeral range (32768 up, where an
# outgoing connection may take any port between the check and the bind),
# starting from a place our PID picks so that parallel runs do not meet.
free_ports() {
	local n=$1 base try used
	used=$(ss -Htan | awk '{ sub(/.*:/, "", $4); print $4 }' | sort -un)
	for try in $(seq 0 99); do
		base=$((20000 + (($$ + try * 37) % 600) * 20))
		if ! printf '%s\n' $used | awk -v b="$base" -v n="$n" '$1 >= b && $1 < b + n { f = 1 } END { exit !f }'; then
			echo "$base"
			return 0
		fi
	done
	fail "no $n free ports below 32768"
}
