#!/bin/bash
# report-check.sh DIR NODES STREAMS EVENTS: open DIR/index.html (`lab report`,
# docs/lab-report.md) in headless Chromium and check that every picture
# renders: the topology's SVG has a size and NODES drawn nodes, and each of
# the STREAMS charts has a size, a drawn rate line of many points and its
# marks (EVENTS: the number of red lines each chart holds, comma-separated).
# A page with several topologies (`lab compare --report`) gives NODES of
# each, comma-separated, in the page's order.
# The page must fetch nothing: no src, href, url() or script of its own.
# Prints what the page measured; exit 1 with the reason when a check fails.
set -eu
dir=$1 nodes=$2 streams=$3 events=$4
page=$dir/index.html
fail() { echo "report-check: $*" >&2; exit 1; }
[ -s "$page" ] || fail "$page missing or empty"
if grep -Eqi '(src|href)=|url\(|@import|<script|<link|<iframe|<object' "$page"; then
	fail "$page refers to something outside it: $(grep -Eoi '(src|href)=.{0,40}|url\(.{0,40}|<(script|link|iframe|object)' "$page" | head -3)"
fi
chrome=$(command -v chromium || command -v chromium-browser) || fail "no chromium"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The measuring script runs in a copy of the page, after everything in it.
{
	sed 's|</body></html>||' "$page"
	cat <<'JS'
<pre id="pgr-check"></pre><script>
const r = { figures: [], images: document.images.length,
	    images_blank: [...document.images].filter(i => !(i.naturalWidth > 0)).length };
for (const s of document.querySelectorAll("figure > svg")) {
	const b = s.getBoundingClientRect(), f = { kind: s.parentElement.className,
		w: Math.round(b.width), h: Math.round(b.height) };
	if (f.kind === "topo") {
		f.nodes = [...s.querySelectorAll("g.node")].filter(g => {
			const n = g.getBBox(); return n.width > 0 && n.height > 0; }).length;
		f.edges = s.querySelectorAll("g.edge").length;
	} else {
		const p = s.querySelector("polyline"), n = p ? p.getBBox() : { width: 0, height: 0 };
		f.points = p ? p.points.numberOfItems : 0;
		f.line_w = Math.round(n.width); f.line_h = Math.round(n.height);
		f.events = s.querySelectorAll("line.event").length;
	}
	r.figures.push(f);
}
document.getElementById("pgr-check").textContent = JSON.stringify(r);
</script></body></html>
JS
} > "$work/check.html"
timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --no-first-run \
	--user-data-dir="$work/profile" --dump-dom "file://$work/check.html" \
	> "$work/dom.html" 2> "$work/chrome.log" || fail "chromium failed: $(tail -3 "$work/chrome.log")"
got=$(sed -n 's|.*<pre id="pgr-check">\(.*\)</pre>.*|\1|p' "$work/dom.html" | sed 's/&quot;/"/g')
[ -n "$got" ] || fail "the page's measuring script did not run"
echo "$got"
j() { jq -r "$1" <<< "$got"; }
[ "$(j '.images_blank')" = 0 ] || fail "an <img> did not load"
[ "$(j '[.figures[] | select(.kind == "topo")] | length')" = "$(tr ',' '\n' <<< "$nodes" | wc -l)" ] ||
	fail "expected $(tr ',' '\n' <<< "$nodes" | wc -l) topology pictures"
[ "$(j '[.figures[] | select(.kind == "stream")] | length')" = "$streams" ] ||
	fail "expected $streams stream charts"
[ "$(j '[.figures[] | select(.w < 100 or .h < 100)] | length')" = 0 ] ||
	fail "a picture is smaller than 100x100 px"
[ "$(j '[.figures[] | select(.kind == "topo") | .nodes] | map(tostring) | join(",")')" = "$nodes" ] ||
	fail "the topologies do not draw $nodes nodes"
[ "$(j '[.figures[] | select(.kind == "stream" and (.points < 50 or .line_w < 100 or .line_h < 10))] | length')" = 0 ] ||
	fail "a stream chart has no drawn rate line"
[ "$(j '[.figures[] | select(.kind == "stream") | .events] | map(tostring) | join(",")')" = "$events" ] ||
	fail "the charts' failure marks are not $events"
