#!/bin/bash
# The CNI plugin as a container runtime calls it (docs/cni.md): environment
# variables, the network configuration on stdin, the result or a CNI error
# on stdout.  In the default lab, containers (network namespaces) are
# attached to srv0 and srv3 in VDCs red and blue, both at 10.0.0.100 (one
# address from the configuration, one from Debian's host-local IPAM plugin),
# reached by the VMs of their own VDC only, checked, detached; bad
# configurations get the right CNI error code and leave nothing behind.
# Then a real runtime: Podman (Debian's podman, its CNI network backend)
# runs a container from a local root file system (busybox, no image) in
# VDC red on srv1 through the plugin, and removes it (skipped, saying so,
# without podman, crun or busybox).
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_root
need_cmd ip
need_cmd jq
[ -x /usr/lib/cni/host-local ] || skip "needs /usr/lib/cni/host-local (containernetworking-plugins)"
P=$PEREGRINE_BIN
PT=$(test_prefix n)
L="--prefix ${PT}"
ST=/run/peregrine/lab-${PT}
tmp=$(mktemp -d)
pm() { :; }
cleanup() {
	pm rm -f -t 0 "${PT}-c4" >/dev/null 2>&1 || true
	for c in c1 c2 c3; do ip netns del "${PT}-$c" 2>/dev/null || true; done
	$P lab down $L >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

mkdir "$tmp/bin"
ln -s "$(realpath "$P")" "$tmp/bin/peregrine-cni"
CNI_PATH="$tmp/bin:/usr/lib/cni"
vm() { ip netns exec "${PT}-$1" "${@:2}"; }

# conf SERVER VDC EXTRA-JSON: a network configuration for SERVER's agent;
# every server gives workloads node numbers of its own (srvN: 1000 + 10N ...)
conf() {
	local first=$((1000 + 10 * ${1#srv}))
	jq -n --arg a "$ST/agents/$1.yaml" --arg p "$ST/pids/$1.agent" --argjson vdc "$2" \
		--argjson f $first --argjson x "$3" '{cniVersion: "1.0.0", name: "net\($vdc)",
		type: "peregrine-cni", vdc: $vdc, agentConfig: $a, agentPidFile: $p,
		nodes: [$f, $f + 9]} + $x'
}
# cni SERVER COMMAND CONTAINER IFNAME < CONF: the plugin in SERVER's namespace
# (the host's network namespace, as far as the plugin can tell)
cni() {
	env -i PATH="$PATH" CNI_COMMAND="$2" CNI_CONTAINERID="$3" CNI_NETNS="/run/netns/${PT}-$3" \
		CNI_IFNAME="$4" CNI_PATH="$CNI_PATH" ${CNI_ARGS:+CNI_ARGS="$CNI_ARGS"} \
		ip netns exec "${PT}-$1" "$tmp/bin/peregrine-cni"
}
# expect_code CODE WHAT OUTPUT-FILE: a CNI error with that code
expect_code() {
	[ "$(jq -r .code "$3")" = "$1" ] || { cat "$3"; fail "$2: expected CNI error $1"; }
	[ -n "$(jq -r '.msg // empty' "$3")" ] || fail "$2: no msg"
	echo "ok: $2: $(jq -r .msg "$3")"
}
leftovers() {	# host veths and workload files of srv0
	{ ip -n "${PT}-srv0" -o link show | grep -o 'pgc[0-9a-f]*' || true; \
	  ls "$ST/workloads/srv0" 2>/dev/null || true; } | sort | tr '\n' ' '
}

$P lab up $L >/dev/null
for c in c1 c2 c3; do ip netns add "${PT}-$c"; done

# ---- VERSION --------------------------------------------------------------------
env -i CNI_COMMAND=VERSION "$tmp/bin/peregrine-cni" </dev/null >"$tmp/v.json"
jq -e '.cniVersion == "1.0.0" and (.supportedVersions | index("1.0.0"))' "$tmp/v.json" \
	>/dev/null || fail "VERSION: $(cat "$tmp/v.json")"

# ---- ADD: red at 10.0.0.100 on srv0 (address from the configuration) -----------
conf srv0 1 '{"ip": "10.0.0.100/24"}' >"$tmp/red.json"
cni srv0 ADD c1 eth0 <"$tmp/red.json" >"$tmp/add1.json" || { cat "$tmp/add1.json"; fail "ADD c1"; }
jq -e '.cniVersion == "1.0.0" and .ips[0].address == "10.0.0.100/24" and .ips[0].interface == 1
	and .interfaces[1].name == "eth0" and (.interfaces[1].sandbox | endswith("-c1"))
	and (.interfaces[0].name | startswith("pgc"))' "$tmp/add1.json" >/dev/null ||
	fail "ADD c1 result: $(cat "$tmp/add1.json")"
mac1=$(jq -r '.interfaces[1].mac' "$tmp/add1.json")
[ "$(vm c1 cat /sys/class/net/eth0/address)" = "$mac1" ] || fail "c1's MAC is not the result's"
vm c1 ip -4 -o addr show dev eth0 | grep -q 'inet 10.0.0.100/24' || fail "c1 lacks its address"
[ -f "$ST/workloads/srv0/c1.eth0.yaml" ] || fail "no workload file for c1"

# ---- ADD: blue at 10.0.0.100 on srv3 (address from host-local) -----------------
conf srv3 2 "{\"ipam\": {\"type\": \"host-local\", \"dataDir\": \"$tmp/ipam\",
	\"ranges\": [[{\"subnet\": \"10.0.0.0/24\", \"rangeStart\": \"10.0.0.100\",
	\"rangeEnd\": \"10.0.0.100\"}]]}}" >"$tmp/blue.json"
cni srv3 ADD c2 eth0 <"$tmp/blue.json" >"$tmp/add2.json" || { cat "$tmp/add2.json"; fail "ADD c2"; }
jq -e '.ips[0].address == "10.0.0.100/24"' "$tmp/add2.json" >/dev/null ||
	fail "ADD c2 result: $(cat "$tmp/add2.json")"
mac2=$(jq -r '.interfaces[1].mac' "$tmp/add2.json")
[ "$mac1" != "$mac2" ] || fail "two workloads with one MAC"
[ -f "$tmp/ipam/net2/10.0.0.100" ] || fail "host-local did not record the address"

# ---- reachability and isolation ---------------------------------------------------
vm red-srv4 ping -c 3 -i 0.2 -W 2 10.0.0.100 >/dev/null || fail "red-srv4 cannot reach c1"
vm blue-srv5 ping -c 3 -i 0.2 -W 2 10.0.0.100 >/dev/null || fail "blue-srv5 cannot reach c2"
vm c1 ping -c 2 -i 0.2 -W 2 10.0.0.6 >/dev/null || fail "c1 cannot reach red-srv5"
# each VDC resolved 10.0.0.100 to its own workload
vm red-srv4 ip neigh show 10.0.0.100 | grep -qi "$mac1" || fail "red resolved another MAC"
vm blue-srv5 ip neigh show 10.0.0.100 | grep -qi "$mac2" || fail "blue resolved another MAC"

# ---- CHECK --------------------------------------------------------------------------
jq --slurpfile r "$tmp/add1.json" '. + {prevResult: $r[0]}' "$tmp/red.json" >"$tmp/check1.json"
cni srv0 CHECK c1 eth0 <"$tmp/check1.json" >"$tmp/out.json" || { cat "$tmp/out.json"; fail "CHECK c1"; }
vm c1 ip addr del 10.0.0.100/24 dev eth0
cni srv0 CHECK c1 eth0 <"$tmp/check1.json" >"$tmp/out.json" && fail "CHECK passed without the address"
expect_code 102 "CHECK: the address removed in the container" "$tmp/out.json"
vm c1 ip addr add 10.0.0.100/24 dev eth0

# ---- bad input: errors, and nothing left behind --------------------------------------
before=$(leftovers)
cni srv0 ADD c1 eth0 <"$tmp/red.json" >"$tmp/out.json" && fail "ADD twice succeeded"
expect_code 100 "ADD twice" "$tmp/out.json"
env -i "$tmp/bin/peregrine-cni" </dev/null >"$tmp/out.json" && fail "no CNI_COMMAND succeeded"
expect_code 4 "no CNI_COMMAND" "$tmp/out.json"
echo '{"cniVersion": "1.0.0", "name": ' | cni srv0 ADD c3 eth0 >"$tmp/out.json" && fail "bad JSON"
expect_code 6 "truncated JSON" "$tmp/out.json"
jq '.cniVersion = "0.3.1"' "$tmp/red.json" | cni srv0 ADD c3 eth0 >"$tmp/out.json" && fail "0.3.1"
expect_code 1 "old cniVersion" "$tmp/out.json"
jq '. + {bandwidth: 5}' "$tmp/red.json" | cni srv0 ADD c3 eth0 >"$tmp/out.json" && fail "field"
expect_code 2 "unknown field" "$tmp/out.json"
jq '.vdc = 0' "$tmp/red.json" | cni srv0 ADD c3 eth0 >"$tmp/out.json" && fail "vdc 0"
expect_code 7 "vdc 0" "$tmp/out.json"
jq '.nodes = [9, 3]' "$tmp/red.json" | cni srv0 ADD c3 eth0 >"$tmp/out.json" && fail "nodes"
expect_code 7 "nodes backwards" "$tmp/out.json"
jq '.ip = "10.0.0.300/24"' "$tmp/red.json" | cni srv0 ADD c3 eth0 >"$tmp/out.json" && fail "ip"
expect_code 7 "bad address" "$tmp/out.json"
env -i CNI_COMMAND=ADD CNI_CONTAINERID=../x CNI_NETNS=/run/netns/${PT}-c3 CNI_IFNAME=eth0 \
	"$tmp/bin/peregrine-cni" <"$tmp/red.json" >"$tmp/out.json" && fail "container ID ../x"
expect_code 4 "container ID ../x" "$tmp/out.json"
# red-srv0 holds 10.0.0.1 in VDC red on srv0
jq '.ip = "10.0.0.1/24"' "$tmp/red.json" | cni srv0 ADD c3 eth0 >"$tmp/out.json" && fail "in use"
expect_code 104 "address in use in the VDC" "$tmp/out.json"
jq '.nodes = [1000, 1000] | .ip = "10.0.0.101/24"' "$tmp/red.json" |
	cni srv0 ADD c3 eth0 >"$tmp/out.json" && fail "no node left"
expect_code 104 "node range used up" "$tmp/out.json"
jq --arg p "$tmp/nope.pid" '.agentPidFile = $p | .ip = "10.0.0.101/24"' "$tmp/red.json" |
	cni srv0 ADD c3 eth0 >"$tmp/out.json" && fail "no agent"
expect_code 101 "no agent to tell" "$tmp/out.json"
env -i PATH="$PATH" CNI_COMMAND=ADD CNI_CONTAINERID=c3 CNI_NETNS=/run/netns/${PT}-gone \
	CNI_IFNAME=eth0 ip netns exec "${PT}-srv0" "$tmp/bin/peregrine-cni" \
	< <(jq '.ip = "10.0.0.101/24"' "$tmp/red.json") >"$tmp/out.json" && fail "no netns"
expect_code 3 "container namespace gone" "$tmp/out.json"
[ "$(leftovers)" = "$before" ] || fail "a failed ADD left something: '$(leftovers)' (was '$before')"
vm c3 ip -o link show | grep -vq ' lo:' && fail "a failed ADD left an interface in c3"
vm red-srv4 ping -c 2 -i 0.2 -W 2 10.0.0.100 >/dev/null || fail "c1 lost by a failed ADD"

# ---- DEL: idempotent; the address goes back to IPAM --------------------------------
cni srv0 DEL c1 eth0 <"$tmp/red.json" >"$tmp/out.json" || { cat "$tmp/out.json"; fail "DEL c1"; }
[ -z "$(leftovers)" ] || fail "DEL left '$(leftovers)'"
vm red-srv4 ping -c 2 -i 0.2 -W 1 10.0.0.100 >/dev/null 2>&1 && fail "c1 answers after DEL"
cni srv0 CHECK c1 eth0 <"$tmp/check1.json" >"$tmp/out.json" && fail "CHECK after DEL passed"
expect_code 102 "CHECK after DEL" "$tmp/out.json"
cni srv0 DEL c1 eth0 <"$tmp/red.json" >"$tmp/out.json" || { cat "$tmp/out.json"; fail "DEL twice"; }
cni srv3 DEL c2 eth0 <"$tmp/blue.json" >"$tmp/out.json" || { cat "$tmp/out.json"; fail "DEL c2"; }
[ ! -e "$tmp/ipam/net2/10.0.0.100" ] || fail "DEL did not release the address to host-local"
grep -q 'SIGHUP: 2 VMs attached' "$ST/logs/srv0.agent.log" || fail "srv0's agent did not drop c1"
echo "ok: CNI ADD, CHECK, DEL, errors"

# ---- under a real runtime: Podman's CNI backend ------------------------------------
# Podman runs in srv1's network namespace (nsenter: only the network
# namespace changes), so the plugin it calls is where srv1's agent is, as
# it would be on a real server.  Its storage, state and network
# configuration are the test's own; --rootfs needs no image.
# runc: crun 1.8 refuses this machine's hybrid cgroup hierarchy.
rt=$(command -v runc || command -v crun || true)
if ! command -v podman >/dev/null || ! command -v busybox >/dev/null || [ -z "$rt" ]; then
	echo "skip: Podman under a real runtime: needs podman, runc (or crun), busybox (scripts/deps.sh)"
	exit 0
fi
mkdir -p "$tmp/rootfs/bin" "$tmp/rootfs/proc" "$tmp/rootfs/sys" "$tmp/rootfs/dev" \
	"$tmp/rootfs/etc" "$tmp/rootfs/tmp" "$tmp/net"
bb=$(command -v busybox)
cp "$bb" "$tmp/rootfs/bin/busybox"
# busybox and the libraries it links (Debian's is dynamic)
ldd "$bb" | grep -o '/[^ ]*' | while read -r lib; do
	mkdir -p "$tmp/rootfs$(dirname "$lib")"; cp -L "$lib" "$tmp/rootfs$lib"
done
for c in sh ip ping sleep cat; do ln -s busybox "$tmp/rootfs/bin/$c"; done
conf srv1 1 '{"ip": "10.0.0.110/24"}' |
	jq '{cniVersion, name: "pgred", plugins: [del(.cniVersion, .name)]}' >"$tmp/net/pgred.conflist"
printf '[network]\nnetwork_backend = "cni"\ncni_plugin_dirs = ["%s", "/usr/lib/cni"]\n' \
	"$tmp/bin" >"$tmp/containers.conf"
pm() {
	CONTAINERS_CONF="$tmp/containers.conf" timeout 30 nsenter --net="/run/netns/${PT}-srv1" \
		podman --root "$tmp/podman/root" --runroot "$tmp/podman/run" --storage-driver vfs \
		--network-config-dir "$tmp/net" --cgroup-manager cgroupfs --events-backend none \
		--runtime "$rt" "$@"
}
t0=$(date +%s%N)
# limits below Podman's defaults (2^20 files, 2^22 processes for root),
# which a root without CAP_SYS_RESOURCE (a container's) cannot raise to
pm run -d --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 --name "${PT}-c4" --network pgred --rootfs "$tmp/rootfs" /bin/sleep 30 >"$tmp/c4.id" ||
	fail "podman run with the plugin"
id=$(cat "$tmp/c4.id")
ip=$(pm inspect "${PT}-c4" | jq -r '.[0].NetworkSettings.Networks.pgred.IPAddress')
[ "$ip" = 10.0.0.110 ] || fail "podman reports the container at '$ip', not 10.0.0.110"
[ -f "$ST/workloads/srv1/$id.eth0.yaml" ] || fail "no workload file for podman's container"
mac4=$(pm exec "${PT}-c4" cat /sys/class/net/eth0/address)
vm red-srv4 ping -c 3 -i 0.2 -W 2 10.0.0.110 >/dev/null || fail "red-srv4 cannot reach the container"
vm red-srv4 ip neigh show 10.0.0.110 | grep -qi "$mac4" || fail "red resolved another MAC"
pm exec "${PT}-c4" ping -c 2 -i 0.2 -W 2 10.0.0.6 >/dev/null || fail "the container cannot reach red-srv5"
vm blue-srv4 ping -c 2 -i 0.2 -W 1 10.0.0.110 >/dev/null 2>&1 && fail "blue reaches red's container"
pm rm -f -t 0 "${PT}-c4" >/dev/null || fail "podman rm"
[ ! -e "$ST/workloads/srv1/$id.eth0.yaml" ] || fail "podman rm left the workload file"
ip -n "${PT}-srv1" -o link show | grep -q 'pgc[0-9a-f]' && fail "podman rm left the host veth"
vm red-srv4 ping -c 2 -i 0.2 -W 1 10.0.0.110 >/dev/null 2>&1 && fail "the container answers after rm"
echo "ok: podman $(podman --version | awk '{print $3}') ran a container in VDC red through the plugin ($(( ($(date +%s%N) - t0) / 1000000 )) ms)"
