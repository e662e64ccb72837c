#!/usr/bin/env bash
# Container create+attach latency of the reference CNI plugins (Debian package
# containernetworking-plugins), driven the way a runtime (containerd, podman) drives them,
# to set beside Bridgeport's own `run -d` latency (bench/create-latency.sh).
#
# For each of COUNT containers, one timed sample (date +%s%N) is the sum of:
#   1. `ip netns add` of the container's network namespace,
#   2. CNI ADD of `bridge` (isDefaultGateway, ipMasq, hairpinMode, host-local IPAM),
#   3. CNI ADD of `portmap` chained after it (prevResult = bridge's result,
#      runtimeConfig.portMappings: hostPort 20000+i -> 80/tcp),
# with the CNI 1.0 environment (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME,
# CNI_PATH) and the network config on stdin. Containers accumulate (all ADDs, then all
# DELs), as in create-latency.sh. The DEL of each container (portmap DEL, bridge DEL,
# `ip netns del`, prevResult = the cached final ADD result, as libcni does) is the second
# row. Prints p50/p90 (nearest rank) in ms as markdown table rows.
#
# Safety: the measuring loop runs as a child process inside a sandbox "host" namespace
# this script creates (as a runtime runs in the host's), so the plugins are plain
# fork+exec, as under a runtime, and the bridge, veths, sysctls (ip_forward) and iptables
# rules land there, never in the machine's root namespace; each plugin call checks that.
# host-local keeps its leases in a temp dir of ours. All is removed at exit, also on failure.
#
# Usage: bench/cni-latency.sh [COUNT]        (as root; default COUNT=100)
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CNI_DIR=/usr/lib/cni

die() { echo "cni-latency: $*" >&2; exit 1; }

ms() { printf '%d.%03d\n' $(($1 / 1000000)) $(($1 / 1000 % 1000)); }  # ns -> ms

source "$(dirname "$0")/../Tests/system/stats.sh"   # percentile, latency_row

# cni COMMAND PLUGIN ID CONFIG: runs the plugin for the container ID (netns /run/netns/ID,
# interface eth0) in the current namespace, which must be the sandbox; stdout -> REPLY.
cni() {
    local rc
    [ /proc/self/ns/net -ef "/run/netns/$TAG-host" ] || die "not inside the sandbox namespace"
    CNI_COMMAND=$1 CNI_CONTAINERID=$3 CNI_NETNS=/run/netns/$3 CNI_IFNAME=eth0 CNI_PATH=$CNI_DIR \
        "$CNI_DIR/$2" <<<"$4" >"$WORK/out"
    rc=$?
    REPLY=
    read -r -d '' REPLY <"$WORK/out"  # builtin: no fork inside the timed part
    [ $rc -eq 0 ] || die "$2 $1 for $3 failed (exit $rc): $REPLY"
}

bridge_conf() {  # bridge_conf [PREVRESULT] -> CONF
    local ipam='{"type":"host-local","ranges":[[{"subnet":"10.88.0.0/16"}]],"dataDir":"'"$WORK/ipam"'"}'
    printf -v CONF '{"cniVersion":"1.0.0","name":"%s","type":"bridge","bridge":"%s","isGateway":true,%s,"ipam":%s%s}' \
        "$TAG" "$TAG" '"isDefaultGateway":true,"ipMasq":true,"hairpinMode":true' "$ipam" "${1:+,\"prevResult\":$1}"
}

portmap_conf() {  # portmap_conf HOSTPORT PREVRESULT -> CONF
    printf -v CONF '{"cniVersion":"1.0.0","name":"%s","type":"portmap","capabilities":{"portMappings":true},%s,"prevResult":%s}' \
        "$TAG" '"runtimeConfig":{"portMappings":[{"hostPort":'"$1"',"containerPort":80,"protocol":"tcp"}]}' "$2"
}

add() {  # add I: netns + bridge ADD + portmap ADD; appends ms to add.ms, keeps the result
    local id=$TAG-c$1 t0
    bridge_conf
    t0=$(date +%s%N)
    ip netns add "$id" || die "ip netns add $id failed"
    cni ADD bridge "$id" "$CONF"
    portmap_conf $((20000 + $1)) "$REPLY"
    cni ADD portmap "$id" "$CONF"
    ms $(($(date +%s%N) - t0)) >>"$WORK/add.ms"
    printf '%s' "$REPLY" >"$WORK/result.$1"
}

del() {  # del I: portmap DEL + bridge DEL + netns del, prevResult = cached ADD result
    local id=$TAG-c$1 result conf1 t0
    read -r -d '' result <"$WORK/result.$1"
    portmap_conf $((20000 + $1)) "$result"
    conf1=$CONF
    bridge_conf "$result"
    t0=$(date +%s%N)
    cni DEL portmap "$id" "$conf1"
    cni DEL bridge "$id" "$CONF"
    ip netns del "$id" || die "ip netns del $id failed"
    ms $(($(date +%s%N) - t0)) >>"$WORK/del.ms"
}

in_sandbox() {  # the measuring part: run by the script itself inside $TAG-host
    local i nat
    for i in $(seq 1 "$COUNT"); do add "$i"; done
    nat=$(iptables-save -t nat) || die "iptables-save failed"
    echo "$(grep -c -- '^-A CNI-DN-' <<<"$nat") $(grep -c -- '^-A ' <<<"$nat")" >"$WORK/rules"
    for i in $(seq "$COUNT" -1 1); do del "$i"; done
}

cleanup() {  # the measuring child (by PID), every namespace named $TAG-*, the temp dir
    local ns
    [ -n "$CHILD" ] && kill "$CHILD" 2>/dev/null && wait "$CHILD"
    for ns in $(ip netns list 2>/dev/null | awk -v t="$TAG-" 'index($1, t) == 1 { print $1 }'); do
        ip netns del "$ns" 2>/dev/null
    done
    [ -n "$WORK" ] && rm -rf "$WORK"
}

need() {  # need COMMAND PACKAGE: installs PACKAGE when COMMAND is missing
    [ -x "$1" ] || command -v "$1" >/dev/null || apt-get install -y "$2" >/dev/null || die "cannot install $2"
}

if [ "${1:-}" = --in-sandbox ]; then in_sandbox; exit 0; fi   # TAG, WORK, COUNT from the parent

[ "$(id -u)" = 0 ] || die "run as root"
CHILD=
export COUNT=${1:-100} TAG=cnibench$$ WORK=   # TAG is the bridge name too: at most 15 characters
[[ $COUNT =~ ^[1-9][0-9]*$ ]] && [ "$COUNT" -le 10000 ] || die "COUNT must be 1..10000"
need "$CNI_DIR/bridge" containernetworking-plugins
need iptables-save iptables
trap cleanup EXIT
trap 'exit 130' INT TERM
WORK=$(mktemp -d "/tmp/$TAG.XXXXXX") || die "mktemp failed"
ip netns add "$TAG-host" || die "cannot create the sandbox namespace $TAG-host"
ip -n "$TAG-host" link set lo up
nsenter --net="/run/netns/$TAG-host" "$BASH" "$0" --in-sandbox &   # nsenter execs: same PID
CHILD=$!
wait "$CHILD"                                # unlike a foreground job, wait lets the traps run
rc=$? CHILD=
[ $rc -eq 0 ] || die "measurement failed"

read -r dn_rules nat_rules <"$WORK/rules"
version=$(dpkg-query -W -f='${Version}' containernetworking-plugins 2>/dev/null)
protocols=$(CNI_COMMAND=VERSION "$CNI_DIR/bridge" </dev/null | sed -n 's/.*"supportedVersions":\[\([^]]*\)\].*/\1/p' | tr -d '"')
echo "|  | p50 ms | p90 ms |"
echo "|---|---|---|"
latency_row "reference CNI bridge+portmap (netns + ADD)" "$WORK/add.ms"
latency_row "reference CNI bridge+portmap (DEL + netns del)" "$WORK/del.ms"
echo
echo "COUNT=$COUNT, containernetworking-plugins ${version:-unknown} (CNI versions $protocols)," \
    "$(iptables --version); before DEL, portmap's CNI-DN-* chains held $dn_rules rules" \
    "($nat_rules nat rules in all) in the sandbox namespace."
