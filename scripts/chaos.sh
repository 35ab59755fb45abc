#!/bin/bash
# make chaos: `peregrine sim chaos` with every kind of fault, seed after
# seed, for SECONDS of wall time; each failing seed's readable trace is kept
# in OUT/seed-S.trace (docs/chaos.md).
#   scripts/chaos.sh PEREGRINE SECONDS OUT [FIRST_SEED] [extra sim chaos options]
set -eu
P=$1 SECONDS_=$2 OUT=$3
FIRST=${4:-}
[ -n "$FIRST" ] || FIRST=$(( $(date +%s) % 1000000 * 1000 ))
shift 4 2>/dev/null || shift $#
mkdir -p "$OUT"
set +e
"$P" sim chaos --seed "$FIRST" --for "$SECONDS_" --json "$@" >"$OUT/run.json"
rc=$?
set -e
[ "$rc" -le 1 ] || { cat "$OUT/run.json"; exit "$rc"; }
python3 - "$OUT/run.json" <<'PY' >"$OUT/failed"
import json, sys
d = json.load(open(sys.argv[1]))
for v in d["violations"]:
    print(v["seed"], v["invariant"], v["sim_time_ms"])
PY
while read -r seed inv ms; do
	"$P" sim chaos --seed "$seed" --trace "$@" >"$OUT/seed-$seed.out" 2>"$OUT/seed-$seed.trace" || true
	echo "seed $seed: $inv at $ms ms: $OUT/seed-$seed.trace"
done <"$OUT/failed"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('%d seeds from %s, %d failed, %d events, %.0f s' % (d['seeds_run'], sys.argv[2], len(d['violations']), d['events'], d['seconds']))" "$OUT/run.json" "$FIRST"
