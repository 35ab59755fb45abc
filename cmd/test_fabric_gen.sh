#!/bin/bash
# `peregrine fabric gen` (docs/deploy.md) without root: what it writes for
# the default fabric, and every kind of bad input refused with the file,
# line and field, writing nothing.  The namespace test that runs the
# generated units is lab/test_deploy.sh.
set -eu
cd "$(dirname "$0")/.."
. tests/lib.sh
need_cmd jq
P=$PEREGRINE_BIN
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

base='name: default
topology: leafspine:spines=2,leaves=4,servers=2,homing=2
vdcs:
  - {name: red, id: 1, subnet: 10.0.0.0/24}
  - {name: blue, id: 2, subnet: 10.0.0.0/24}
placement:
  per_server: 1'
printf '%s\n' "$base" >"$tmp/plain.yaml"
printf '%s\n%s\n' "$base" 'deploy:
  bin: /opt/peregrine/bin/peregrine
  metrics: false
  controller: {name: ctl0, mgmt: 192.0.2.1}
  hosts:
    srv0: {mgmt: 192.0.2.20, ports: [enp1s0f0, enp1s0f1]}' >"$tmp/deploy.yaml"

# the defaults: the lab's addresses, /usr/sbin, /etc/peregrine, metrics on
$P fabric gen "$tmp/plain.yaml" --out "$tmp/a" >"$tmp/a.txt"
grep -q '^15 hosts written' "$tmp/a.txt" || fail "summary: $(tail -1 "$tmp/a.txt")"
[ "$(wc -l <"$tmp/a/hosts.txt")" -eq 16 ] || fail "hosts.txt: expected a header and 15 hosts"
u=$tmp/a/controller/etc/systemd/system
grep -q '^ExecStart=/usr/sbin/peregrine directory --listen 172.31.0.1:7300 --db /var/lib/peregrine/directory.db --key /etc/peregrine/key --name controller --metrics 172.31.0.1:9461$' \
	"$u/peregrine-directory.service" || fail "directory unit: $(grep ExecStart "$u/peregrine-directory.service")"
[ "$(grep -o -- '--switch [a-z0-9]*=172.31.0.[0-9]*:7400' "$u/peregrine-ras.service" | wc -l)" -eq 6 ] ||
	fail "the RAS unit names 6 switches"
grep -q 'ExecStart=.*switchd .*--id 2 .*--ras 172.31.0.1:7500 .*--uplinks 0,1' \
	"$tmp/a/leaf0/etc/systemd/system/peregrine-switchd.service" || fail "leaf0's switchd unit"
grep -q 'KillSignal=SIGUSR1' "$tmp/a/srv3/etc/systemd/system/peregrine-agent.service" ||
	fail "the agent's unit must stop it hitlessly"
[ "$(stat -c %a "$tmp/a/srv3/etc/peregrine/key")" = 600 ] || fail "key mode"
cmp -s "$tmp/a/srv3/etc/peregrine/key" "$tmp/a/spine0/etc/peregrine/key" || fail "one key for all"
grep -q '^  - { name: red-srv3, vdc: 1, ip: 10.0.0.4,' "$tmp/a/srv3/etc/peregrine/agent.yaml" ||
	fail "srv3's agent.yaml: $(cat "$tmp/a/srv3/etc/peregrine/agent.yaml")"
echo "ok: the default fabric's files"

# a deploy: section: paths, controller, host addresses, renames, no metrics
$P fabric gen "$tmp/deploy.yaml" --out "$tmp/b" --key "$tmp/a/srv0/etc/peregrine/key" --json >"$tmp/b.json"
[ "$(jq -r '.hosts[0].host + " " + .hosts[0].mgmt' "$tmp/b.json")" = "ctl0 192.0.2.1" ] ||
	fail "controller: $(jq -c '.hosts[0]' "$tmp/b.json")"
cmp -s "$tmp/a/srv0/etc/peregrine/key" "$tmp/b/leaf1/etc/peregrine/key" || fail "--key not used"
grep -q 'directory: "192.0.2.1:7300"' "$tmp/b/srv0/etc/peregrine/agent.yaml" || fail "agent's directory"
grep -q '^ExecStart=/opt/peregrine/bin/peregrine agent ' "$tmp/b/srv0/etc/systemd/system/peregrine-agent.service" ||
	fail "deploy.bin"
if grep -rq -- --metrics "$tmp/b"; then fail "metrics: false still serves metrics"; fi
grep -q -- '--ras 192.0.2.1:7500' "$tmp/b/spine1/etc/systemd/system/peregrine-switchd.service" ||
	fail "switchd reports to the controller"
grep -q -- '--switch leaf0=172.31.0.4:7400' "$tmp/b/ctl0/etc/systemd/system/peregrine-ras.service" ||
	fail "the RAS's switches"
printf '[Match]\nOriginalName=enp1s0f1\n\n[Link]\nName=pg-nic1\n' >"$tmp/link"
grep -v '^#' "$tmp/b/srv0/etc/systemd/network/10-peregrine-pg-nic1.link" | cmp -s - "$tmp/link" ||
	fail "srv0's NIC rename"
echo "ok: a deploy section's paths, addresses, key and renames"

# security groups: a file per VM beside agent.yaml, which names it
printf '%s\n%s\n' "$base" 'policy:
  - vm: red-srv2
    rules: ["in icmp from 10.0.0.1", "in tcp 22 from 10.0.0.0/24"]' >"$tmp/pol.yaml"
$P fabric gen "$tmp/pol.yaml" --out "$tmp/p" >/dev/null
printf 'in icmp from 10.0.0.1\nin tcp 22 from 10.0.0.0/24\n' | cmp -s - "$tmp/p/srv2/etc/peregrine/policy/red-srv2.pol" ||
	fail "red-srv2's policy file"
grep -q 'name: red-srv2, .*policy: "*/etc/peregrine/policy/red-srv2.pol' "$tmp/p/srv2/etc/peregrine/agent.yaml" ||
	fail "agent.yaml does not name the policy: $(grep red-srv2 "$tmp/p/srv2/etc/peregrine/agent.yaml")"
[ ! -e "$tmp/p/srv3/etc/peregrine/policy" ] || fail "srv3 got a policy it has no VM for"
echo "ok: a VM's security group"

# bad input: the file, the line and the field; nothing written
bad() {
	local what=$1 body=$2 want=$3 out
	printf '%s\n%s\n' "$base" "$body" >"$tmp/bad.yaml"
	if out=$($P fabric gen "$tmp/bad.yaml" --out "$tmp/bad" 2>&1); then fail "$what: accepted"; fi
	echo "$out" | grep -q -- "$want" || fail "$what: '$out' does not say '$want'"
	[ ! -e "$tmp/bad" ] || fail "$what: wrote $tmp/bad"
	if ls -d "$tmp"/bad.tmp-* >/dev/null 2>&1; then fail "$what: left a partial directory"; fi
	echo "ok: $what: $out"
}
bad "unknown key" 'deploy: {bni: /usr/bin/x}' "bad.yaml:8: .*bni"
bad "relative path" 'deploy: {config_dir: etc/peregrine}' "bad.yaml:8: deploy.config_dir: an absolute path"
bad "a path with a space" 'deploy: {bin: "/usr/bin/pere grine"}' "deploy.bin: an absolute path"
bad "not a bool" 'deploy: {veth_nics: yes}' "deploy.veth_nics: true or false"
bad "unknown host" 'deploy: {hosts: {srv99: {mgmt: 192.0.2.9}}}' "srv99 is neither a node"
bad "bad address" 'deploy: {hosts: {srv1: {mgmt: 192.0.2.300}}}' "deploy.hosts.srv1.mgmt"
bad "same address" 'deploy: {hosts: {srv1: {mgmt: 172.31.0.2}}}' "spine0 and srv1 have the same management address"
bad "loopback" 'deploy: {controller: {mgmt: 127.0.0.1}}' "127.0.0.1 is not a host's"
bad "too many ports" 'deploy: {hosts: {srv1: {ports: [a, b, c]}}}' "deploy.hosts.srv1.ports: a list of at most 2"
bad "a port twice" 'deploy: {hosts: {srv1: {ports: [eth0, eth0]}}}' "ports\[1\]: eth0 is also port 0"
bad "a bad interface name" 'deploy: {hosts: {srv1: {ports: ["a/b"]}}}' "ports\[0\]: an interface name"
bad "controller named like a node" 'deploy: {controller: {name: leaf0}}' "leaf0 is a node of the topology"
bad "controller ports" 'deploy: {hosts: {controller: {ports: [eth0]}}}' "the controller has no fabric ports"
bad "not a mapping" 'deploy: [1, 2]' "deploy: expected a mapping"
printf '%s\nscheme: vl2\n' "$(echo "$base" | sed 's/leafspine:spines=2,leaves=4,servers=2,homing=2/vl2:da=4,di=4,per_tor=2/; s#10.0.0.0/24}$#10.0.0.0/24}#; s#blue, id: 2, subnet: 10.0.0.0/24#blue, id: 2, subnet: 10.0.1.0/24#')" >"$tmp/vl2.yaml"
expect_fail "scheme vl2" $P fabric gen "$tmp/vl2.yaml" --out "$tmp/c"
$P fabric gen "$tmp/vl2.yaml" --out "$tmp/c" 2>&1 | grep -q "only the peregrine scheme" || fail "vl2: the reason"
expect_fail "no --out" $P fabric gen "$tmp/plain.yaml"
expect_fail "no file" $P fabric gen --out "$tmp/d"
expect_fail "a missing file" $P fabric gen "$tmp/nothing.yaml" --out "$tmp/d"
expect_fail "unknown option" $P fabric gen "$tmp/plain.yaml" --out "$tmp/d" --force
expect_fail "bad prefix" $P fabric gen "$tmp/plain.yaml" --out "$tmp/d" --prefix Bad
expect_fail "a key that is not one" $P fabric gen "$tmp/plain.yaml" --out "$tmp/d" --key "$tmp/plain.yaml"
[ ! -e "$tmp/d" ] || fail "a refused run wrote $tmp/d"
$P fabric --help | grep -q "Usage: peregrine fabric gen" || fail "--help"
echo "ok: bad input refused, nothing written"
