#!/bin/bash
# Every mutant of `make mutants` (scripts/mutants.py) still applies to this
# tree: its old text occurs exactly once in its core file.  A core changed
# under a mutant would turn it into a no-op that only the next (long) run of
# `make mutants` reports; this keeps the list in step with the cores.  Then
# the check itself can fail: a copy of a core with a mutant's text doubled
# is reported.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd python3
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

out=$(python3 scripts/mutants.py --check) || fail "a mutant no longer applies: $out"
echo "$out"
n=$(echo "$out" | sed -n 's/^\([0-9]*\) mutants, 0 do not apply$/\1/p')
[ -n "$n" ] && [ "$n" -ge 10 ] || fail "fewer than 10 mutants: $out"

# The check fails on a tree where a mutant's text is not unique.
mkdir -p "$tmp/scripts" "$tmp/dir" "$tmp/ras" "$tmp/switchd" "$tmp/agent"
cp scripts/mutants.py "$tmp/scripts/"
for f in dir/dir.c ras/*.c switchd/*.c agent/*.c; do cp "$f" "$tmp/$f"; done
cat dir/dir.c dir/dir.c > "$tmp/dir/dir.c"
if python3 "$tmp/scripts/mutants.py" --check > "$tmp/out"; then
	fail "the check passed a tree with dir/dir.c doubled"
fi
grep -q 'occurs 2 times in dir/dir.c' "$tmp/out" || fail "no message for the doubled file: $(cat "$tmp/out")"
echo "ok: every mutant applies once"
