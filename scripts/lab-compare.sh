#!/bin/bash
# `peregrine lab compare [--json]` (docs/evpn.md, "The comparison"): every
# scheme's demo on the same machine, one after the other, and one table:
# FIB entries per switch (the lab's, and the simulator's at about 1M VMs),
# header bytes, tenant MTU, iperf, fail-over gaps and loss, migration gap;
# then the issue's targets as ratios, Peregrine against the EVPN baseline.
#
# A scheme adds a row by adding a line to ROWS: NAME SCHEME ENV SIM_TOPO
# (ENV: VAR=VALUE given to its demo, or -; SIM_TOPO: the topology `sim fib`
# extrapolates on, about 1M VMs at 100 per server, or - for none).
#
# Usage: lab-compare.sh [--json] (PEREGRINE = the binary, PREFIX = a prefix
# of at most 4 characters: row i runs under PREFIX + i; PEREGRINE_REPORT =
# a directory for the HTML report: each demo runs with --report
# PEREGRINE_REPORT/NAME and `lab report` puts them on one page with the
# table and the targets, docs/lab-report.md).  Each demo is
# bounded in time and count as its own script says; the whole is about
# six to seven minutes on two cores.
set -euo pipefail
. "$(dirname "$0")/human.sh"
P=${PEREGRINE:-build/peregrine}
X=${PREFIX:-pg}
X=${X:0:4}
JSON=0
[ "${1:-}" = --json ] && JSON=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
say() { if [ $JSON = 1 ]; then echo "$*" >&2; else echo "$*"; fi; }
REPORT=${PEREGRINE_REPORT:-}
unset PEREGRINE_REPORT

SIM=leafspine:spines=16,leaves=256,servers=40	# 10,240 servers, 1,024,000 VMs
ROWS=(
	"evpn       evpn      -                  $SIM"
	"evpn-jumbo evpn      UNDERLAY_MTU=9000  -"
	"netlord    netlord   -                  $SIM"
	"peregrine  peregrine -                  $SIM"
	"vl2        vl2       -                  $SIM"
)

i=0
for row in "${ROWS[@]}"; do
	read -r name scheme env topo <<<"$row"
	say "== $name: $([ "$env" = - ] || echo "$env ")peregrine lab demo --scheme $scheme"
	t0=$(date +%s)
	rc=0
	( [ "$env" = - ] || export "${env?}"
	  PREFIX="$X$i" "$P" lab demo --scheme "$scheme" --prefix "$X$i" --json \
		${REPORT:+--report "$REPORT/$name"} ) \
		>"$tmp/$name.json" 2>"$tmp/$name.err" || rc=$?
	jq -e . "$tmp/$name.json" >/dev/null 2>&1 || echo '{}' >"$tmp/$name.json"
	sim='{}'
	if [ "$topo" != - ]; then
		sim=$("$P" sim fib --topo "$topo" --scheme "$scheme" --vms-per-server 100 --json |
			jq -c '(.results[0]? // .) | {sim_vms: .vms, sim_fib_max: .fib_max, sim_fib_mean: .fib_mean}')
	fi
	jq -c --arg n "$name" --arg s "$scheme" --argjson rc "$rc" --argjson sim "$sim" \
	      --argjson secs "$(( $(date +%s) - t0 ))" '
		. as $d | ($d.fib // {} | [.[]]) as $f | {name: $n, scheme: $s, demo_ok: ($rc == 0),
		pairs_ok: $d.pairs_ok, pairs_total: $d.pairs_total,
		isolation_violations: $d.isolation_violations,
		header_bytes: ($d.header_bytes // (if $s == "peregrine" then 0 else null end)),
		tenant_mtu: ($d.tenant_mtu // (if $s == "peregrine" then 1500 else null end)),
		iperf_gbps: $d.iperf_gbps, failover_gap_ms: $d.failover_gap_ms,
		failover_lost_ms: $d.failover_lost_ms, grey_gap_ms: $d.grey_gap_ms,
		migration_gap_ms: $d.migration_gap_ms,
		fib_max: ($f | max), fib_mean: (if ($f | length) > 0 then ($f | add / length) else null end),
		seconds: $secs} + $sim' "$tmp/$name.json" >>"$tmp/rows.jsonl"
	[ $rc = 0 ] || say "   its demo failed (exit $rc): $(tail -3 "$tmp/$name.err" | tr '\n' ' ')"
	i=$((i + 1))
done
jq -s . "$tmp/rows.jsonl" >"$tmp/rows.json"

# The targets: Peregrine against EVPN (link cut and spine failure gaps at
# least 10 times shorter; throughput at least EVPN's with tenants at 1500
# bytes, which EVPN needs a jumbo underlay for; migration gap at most EVPN's).
jq '
	def row($n): (map(select(.name == $n)) | .[0]) // {};
	def ratio($a; $b): if $a == null or $b == null then null elif $b == 0 then
		(if $a == 0 then "both 0" else "inf" end) else ($a / $b * 100 | round / 100) end;
	row("peregrine") as $p | row("evpn") as $e | row("evpn-jumbo") as $j |
	[ {target: "link cut gap: EVPN / Peregrine >= 10",
	   value: ratio($e.failover_gap_ms[0]?; $p.failover_gap_ms[0]?)},
	  {target: "spine failure gap: EVPN / Peregrine >= 10",
	   value: ratio($e.failover_gap_ms[1]?; $p.failover_gap_ms[1]?)},
	  {target: "grey failure (spine stops forwarding, links up) gap: EVPN / Peregrine (no target; EVPN: BFD finds it; Peregrine: nothing does, the gap lasts as long as the drop, 2 s)",
	   value: ratio($e.grey_gap_ms; $p.grey_gap_ms)},
	  {target: "throughput, tenant MTU 1500: Peregrine / EVPN (jumbo underlay) >= 1",
	   value: ratio($p.iperf_gbps; $j.iperf_gbps)},
	  {target: "throughput, 1500-byte underlay: Peregrine / EVPN >= 1",
	   value: ratio($p.iperf_gbps; $e.iperf_gbps)},
	  {target: "migration gap: EVPN / Peregrine >= 1",
	   value: ratio($e.migration_gap_ms; $p.migration_gap_ms)},
	  {target: "FIB per switch at 1M VMs (max): EVPN / Peregrine (no target; < 1: Peregrine holds more)",
	   value: ratio($e.sim_fib_max; $p.sim_fib_max)} ]
	| map(. + {met: (if (.target | test("no target")) then null
		elif .value == "inf" then true elif .value == "both 0" or .value == null then false
		else .value >= (.target | capture(">= (?<n>[0-9]+)").n | tonumber) end)})
' "$tmp/rows.json" >"$tmp/targets.json"

if [ -n "$REPORT" ]; then
	mkdir -p "$REPORT/data"
	parts=$(for row in "${ROWS[@]}"; do
		read -r name _ <<<"$row"
		[ -f "$REPORT/$name/data/report.json" ] && echo "$name"
	done | jq -R . | jq -s -c .)
	jq -n --slurpfile r "$tmp/rows.json" --slurpfile t "$tmp/targets.json" --arg sim "$SIM" \
		--argjson parts "$parts" \
		'{title: "Peregrine and the other schemes: lab compare",
		  summary: "Every scheme'"'"'s demo on the same machine, one after the other (scripts/lab-compare.sh, docs/evpn.md \"The comparison\"); the targets are ratios of Peregrine to the EVPN baseline. Below the tables, each demo'"'"'s own report.",
		  compare: {rows: $r[0], targets: $t[0]},
		  figures: {sim_topology: $sim, sim_vms_per_server: 100},
		  parts: $parts}' >"$REPORT/data/report.json"
	"$P" lab report "$REPORT" >&2
fi
if [ $JSON = 1 ]; then
	jq -n --slurpfile r "$tmp/rows.json" --slurpfile t "$tmp/targets.json" --arg sim "$SIM" \
		'{rows: $r[0], targets: $t[0], sim_topology: $sim, sim_vms_per_server: 100}'
	exit 0
fi
printf '\n%-11s %5s %4s %4s %5s %6s %15s %8s %7s %8s %11s %15s\n' scheme pairs isol hdrB mtu Gbit/s \
	"gap link/spine" "lost ms" "grey ms" "mig ms" "FIB max/mean" "FIB@1M max/mean"
jq -r '.[] | [.name, "\(.pairs_ok // "?")/\(.pairs_total // "?")", (.isolation_violations // "?"),
	(.header_bytes // "?"), (.tenant_mtu // "?"), ((.iperf_gbps // 0) * 100 | round / 100),
	"\(.failover_gap_ms[0]? // "?")/\(.failover_gap_ms[1]? // "?")", (.failover_lost_ms // "?"),
	(.grey_gap_ms // "-"), (.migration_gap_ms // "?"), "\(.fib_max // "?")/\((.fib_mean // 0) * 10 | round / 10)",
	(if .sim_fib_max then "\(.sim_fib_max)/\(.sim_fib_mean * 10 | round / 10)" else "-" end)]
	| @tsv' "$tmp/rows.json" |
	while IFS=$'\t' read -r a b c d e f g h gr k l m; do
		printf '%-11s %5s %4s %4s %5s %6s %15s %8s %7s %8s %11s %15s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h" "$gr" "$k" "$l" "$m"
	done
echo
jq -r '.[] | "\(if .met == null then "  --  " elif .met then " met  " else "NOT met" end) \(.target): \(.value // "?")"' \
	"$tmp/targets.json"
echo "(FIB@1M: peregrine sim fib --topo $SIM --vms-per-server 100)"
