#!/bin/bash
# make demo, part one: the data-center topologies Peregrine builds and
# analyses.  Part two is `peregrine lab demo` (scripts/lab-demo.sh): the
# default lab running, measured, torn down.
set -eu
P=${1:-build/peregrine}

section() { printf '\n== %s ==\n' "$*"; }

section "Peregrine's prototype fabric: a dual-homed leaf-spine"
"$P" topo stats leafspine:spines=2,leaves=4,servers=2,homing=2
"$P" topo check leafspine:spines=2,leaves=4,servers=2,homing=2

section "The same fabric single-homed: every access link is a single point of failure"
"$P" topo check leafspine:spines=2,leaves=4,servers=2

section "VL2's Clos at its paper's scale"
"$P" topo stats vl2:da=144,di=144

section "A k=48 fat-tree"
"$P" topo stats fattree:k=48

section "BCube(16,3): server-centric, every server has 4 NICs"
"$P" topo stats bcube:n=16,k=3
"$P" topo check bcube:n=16,k=3

section "Building and checking at scale (make bench runs all benchmarks)"
"$P" bench topo

section "The emulated data center (peregrine lab demo, as root)"
