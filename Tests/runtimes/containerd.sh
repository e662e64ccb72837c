# containerd (Debian's 1.6, unmodified) with bridgeport-cni, through `ctr run --cni`:
# chained after the reference bridge plugin, and as the main plugin. containerd runs in
# the sandbox's host namespace and a mount namespace of its own, where /etc/cni/net.d and
# /usr/lib/cni are the test's (ctr reads its CNI configuration and plugins there); its root,
# state and socket are under $STATE. `ctr run --cni` passes no port mappings, so what is
# checked is the container's network: reachability, counters, isolation, masquerade, and
# the hairpin to a published port of a Bridgeport container.
C=$STATE/containerd
CTR_SOCK=$C/containerd.sock

sandbox_mount_namespace || { fail "a mount namespace for containerd"; return; }
ENTER="nsenter --mount=$STATE/mnt/ns"
# ctr itself runs the CNI plugins (not containerd), in its own network and mount
# namespaces: always the sandbox's, never the machine's (whose /etc/cni/net.d may hold
# another runtime's configuration, bridge and iptables plugins included).
ctr_() { $ENTER nsenter --net=/run/netns/"$HOST_NS" ctr --address "$CTR_SOCK" "$@"; }
mkdir -p "$C/net.d" "$C/bin" "$C/root" "$C/state" "$C/rootfs"
cp /usr/lib/cni/bridge /usr/lib/cni/host-local /usr/lib/cni/loopback "$(dirname "$BIN")/bridgeport-cni" "$C/bin/"
$ENTER mount --bind "$C/net.d" /etc/cni/net.d && $ENTER mount --bind "$C/bin" /usr/lib/cni ||
    { fail "the test's CNI directories in the mount namespace"; return; }
# the_tests_cni: what ctr will read is the test's own, and nothing else.
the_tests_cni() { [ "$($ENTER ls /etc/cni/net.d)" = "$(ls "$C/net.d")" ] && [ "$($ENTER ls /usr/lib/cni)" = "$(ls "$C/bin")" ]; }
agent_start || { fail "agent starts"; return; }

containerd_start() {
    mkdir -p "$CGROUP/containerd"
    sh -c 'echo $$ >"$0/containerd/cgroup.procs" && exec "$@"' "$CGROUP" \
        $ENTER nsenter --net=/run/netns/"$HOST_NS" \
        containerd --config /dev/null --address "$CTR_SOCK" --root "$C/root" --state "$C/state" >>"$C/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
    for _ in $(seq 1 100); do ctr_ version >/dev/null 2>&1 && return 0; kill -0 $CONTAINERD_PID 2>/dev/null || break; sleep 0.1; done
    tail -20 "$C/containerd.log"; return 1
}
containerd_stop() {
    [ -n "${CONTAINERD_PID:-}" ] || return 0
    for task in $(ctr_ task ls -q 2>/dev/null); do ctr_ task kill -s KILL "$task" >/dev/null 2>&1; done
    sleep 0.3
    for task in $(ctr_ task ls -q 2>/dev/null); do ctr_ task delete -f "$task" >/dev/null 2>&1; done
    for container in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$container" >/dev/null 2>&1; done
    terminate "$CONTAINERD_PID" 10
    CONTAINERD_PID=
}
on_down containerd_stop
# libcni keeps its results under /var/lib/cni whatever the options: made here, removed here.
[ -e /var/lib/cni ] || on_down rm -rf /var/lib/cni
check "containerd starts in the sandbox" containerd_start || return

busybox_rootfs "$C/rootfs.tar"
tar -C "$C/rootfs" -xf "$C/rootfs.tar"
# crun ID [command...]: a detached container of the busybox rootfs on the CNI network in net.d.
crun() {
    local id=$1; shift
    [ $# -gt 0 ] || set -- httpd -f -p 0.0.0.0:80 -h /www
    ctr_ run -d --null-io --cni --env PATH=/bin --cgroup "/$TAG/containerd/$id" --rootfs "$C/rootfs" "$id" "$@"
}
ctr_remove() { ctr_ task kill -s KILL "$1" && sleep 0.5 && ctr_ task delete "$1" && ctr_ containers delete "$1"; }
# in_c ID command...: runs in the container (ctr task exec).
in_c() { local id=$1; shift; ctr_ task exec --exec-id "x$RANDOM" "$id" "$@"; }
address_of() { in_c "$1" ip -4 -o addr show eth0 | awk '{ split($4, a, "/"); print a[1] }'; }

check "a Bridgeport container with a published port" bp run -d --name bpweb --net bridge -p 8095:80 -- python3 "$TOOLS/echo.py" --tcp 80
cni_conflists "$C/conflists"
for mode in chained main; do
    echo "  -- $mode"
    rm -f "$C/net.d"/*
    cp "$C/conflists/"*"$mode.conflist" "$C/net.d/"
    check "ctr will read the test's CNI configuration and plugins only" the_tests_cni || return
    check "ctr run --cni ($mode)" crun web-$mode
    ip=$(address_of web-$mode)
    check_output "it has an address of the $mode network" '^10\.22[45]\.0\.[0-9]+$' echo "$ip"
    check_output "the host reaches it" '^hello$' in_host curl -s --max-time 3 "http://$ip/"
    check_output "its veth is counted under ctr's container ID (namespace-ID)" \
        "bridgeport_container_network_receive_packets_total\{container=\"default-web-$mode\",network=\"$mode\",interface=\"veth[^\"]+\"\} [1-9]" metrics
    check_fails "a Bridgeport container on another network does not reach it" 1 '100% packet loss' bp exec bpweb ping -c 2 -W 1 "$ip"
    check_output "hairpin: it reaches a Bridgeport container's published port at the host's address" '^80 10\.22[45]\.0\.' \
        in_c web-$mode sh -c "echo h | nc -w 3 198.51.100.1 8095 | tail -1"
    check "no nftables rule in the host namespace" no_nft_rules
    check "the task is killed and removed" ctr_remove web-$mode
    check_output "its veth is gone from the metrics" '^$' samples '.*' container="default-web-$mode"
done
check "containerd stops" containerd_stop
