#!/bin/sh
# Install the Debian packages Peregrine needs to build, test, benchmark and
# run its lab.  Idempotent: a second run installs nothing and is quick.
# Every package and why it is here: docs/dependencies.md.
set -eu

PKGS="make gcc clang llvm lld libclang-rt-14-dev pkg-config \
libbpf-dev bpftool libelf-dev zlib1g-dev \
libev-dev libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libyaml-dev libsodium-dev liblmdb-dev libcmocka-dev libmnl-dev \
iproute2 iperf3 iputils-ping procps util-linux python3 jq curl \
redis-server redis-tools gnuplot-nox valgrind containernetworking-plugins prometheus frr nftables \
etcd-server etcd-client udhcpc isc-dhcp-client haproxy graphviz chromium \
podman runc busybox"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
		|| missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing" >&2
	echo "deps: run as root, or: apt-get install$missing" >&2
	exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
