#!/bin/bash
# peregrine sim chaos --fail: one spine or leaf-spine link failure in a
# quiet fabric of 32 servers (leafspine:spines=4,leaves=8,servers=4,homing=2,
# 10 VMs a server), the real cores; every affected agent must switch trees
# within the window, the run must replay to the same hash, the JSON must
# carry its keys, and bad options are refused (docs/chaos.md, "Scale").
#
#   spine0 .. spine3
#     |  \  /  |          (every leaf to every spine)
#   leaf0 .. leaf7
#     \  /     \  /
#   srv0..3 .. srv28..31   (every server on a pair of leaves)
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd python3
P=$PEREGRINE_BIN
T=leafspine:spines=4,leaves=8,servers=4,homing=2
tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }

for f in spine link; do
	$P sim chaos --topo $T --vms-per-server 10 --fail $f --json >"$tmp/$f.json" ||
		fail "--fail $f: $(cat "$tmp/$f.json")"
	for k in seeds_run violations events trace_hashes seconds agents_affected \
		 agents_switched switch_ms_p50 switch_ms_p99 switch_ms_max messages pushes \
		 push_datagrams peak_rss_mib entries; do
		jget "['$k']" <"$tmp/$f.json" >/dev/null || fail "--fail $f: JSON lacks $k"
	done
	aff=$(jget "['agents_affected']" <"$tmp/$f.json")
	[ "$aff" -gt 0 ] || fail "--fail $f: no agent affected"
	[ "$(jget "['agents_switched']" <"$tmp/$f.json")" = "$aff" ] ||
		fail "--fail $f: not every affected agent switched: $(cat "$tmp/$f.json")"
	# 320 VMs look up 4 peers each: 1,280 lookups, fewer entries where two
	# VMs of a server drew the same peer
	[ "$(jget "['entries']" <"$tmp/$f.json")" -ge 1000 ] || fail "--fail $f: too few entries"
	[ "$(jget "['pushes']" <"$tmp/$f.json")" -gt 0 ] || fail "--fail $f: the directory pushed nothing"
	python3 -c "import json,sys; d=json.load(open('$tmp/$f.json')); sys.exit(not (0 < d['switch_ms_max'] < 1000 and d['switch_ms_p50'] <= d['switch_ms_p99'] <= d['switch_ms_max']))" ||
		fail "--fail $f: switch times out of order or range: $(cat "$tmp/$f.json")"
done
# a spine failure withdraws more than one link's
[ "$(jget "['macs_changed']" <"$tmp/spine.json")" -gt "$(jget "['macs_changed']" <"$tmp/link.json")" ] ||
	fail "a spine failure withdrew no more MACs than a link's"
# the costs were charged: the RAS's CPU time, netlink entries, the
# directory's sends
python3 -c "import json,sys; d=json.load(open('$tmp/spine.json')); sys.exit(not (d['costs'] and d['ras_cpu_ms'] > 0 and d['netlink_entries'] > 0 and d['netlink_ms_max'] > 0 and d['dir_send_ms'] > 0))" ||
	fail "--fail spine: costs not charged: $(cat "$tmp/spine.json")"

# the same seed, the same run (without costs: the RAS's CPU time charged is
# measured, so a run with costs replays only up to it); and the human output
$P sim chaos --topo $T --vms-per-server 10 --fail link --no-costs --json >"$tmp/n1.json"
python3 -c "import json,sys; d=json.load(open('$tmp/n1.json')); sys.exit(not (not d['costs'] and d['ras_cpu_ms'] == 0 and d['dir_send_ms'] == 0 and d['switch_ms_max'] > 0))" ||
	fail "--fail link --no-costs: costs charged: $(cat "$tmp/n1.json")"
$P sim chaos --topo $T --vms-per-server 10 --fail link --no-costs >"$tmp/h.txt"
grep -q 'agents switched:' "$tmp/h.txt" || fail "no human summary: $(cat "$tmp/h.txt")"
grep -q "hash $(jget "['trace_hashes'][0]" <"$tmp/n1.json")" "$tmp/h.txt" ||
	fail "--fail link: the same seed hashed differently: $(cat "$tmp/h.txt")"

for bad in "--fail bogus" "--fail spine --seeds 2" "--peers 4" "--fail link --peers 0" \
	   "--fail link --peers 65" "--fail spine --faults loss" "--fail link --no-faults" \
	   "--no-costs" "--fail link --netlink-rate 0" "--fail link --dir-send-ns 0" \
	   "--fail link --no-costs --dir-send-ns 10"; do
	rc=0
	# shellcheck disable=SC2086
	$P sim chaos --topo $T $bad >"$tmp/o" 2>"$tmp/e" || rc=$?
	[ "$rc" -ne 0 ] || fail "'$bad' accepted"
	grep -q 'peregrine sim chaos:' "$tmp/e" || fail "'$bad': no clear error: $(cat "$tmp/e")"
done
echo "sim chaos --fail: ok"
