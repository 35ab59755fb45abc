# Figures for people: sourced by the demo scripts.  Machine output (--json)
# keeps full precision; what a person reads is rounded.
#
# human_round VALUE DECIMALS: VALUE rounded half away from zero, with exactly
# DECIMALS digits after the point ("14.06843056502235" 1 -> "14.1"); a value
# that is not a number comes back as it is.
human_round() {
	LC_ALL=C awk -v v="$1" -v d="$2" 'BEGIN {
		if (v !~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) { print v; exit }
		s = v < 0 ? -1 : 1; m = 10 ^ d
		printf "%.*f\n", d, s * int(s * v * m + 0.5) / m
	}'
}
