#!/bin/bash
# scripts/human.sh: the demo's rounding of figures for people.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd awk
. scripts/human.sh

check() {
	local got
	got=$(human_round "$1" "$2")
	[ "$got" = "$3" ] || fail "human_round $1 $2: got '$got', want '$3'"
}
check 14.06843056502235 1 14.1
check 14.06843056502235 2 14.07
check 9.96 1 10.0
check 0.25 1 0.3
check -2.25 1 -2.3
check 3 1 3.0
check 41.5 0 42
check 1e-9 2 0.00
check null 1 null
check "" 1 ""
echo "ok: human_round"
