# Podman (Debian's 4.3, CNI backend, runc), unmodified, with bridgeport-cni: chained after
# the reference bridge plugin, and as the main plugin. Podman is daemonless: every command
# runs in the sandbox's host namespace with its storage, CNI configuration and temporary
# files under $STATE; its containers run under the sandbox's cgroup (socket hooks).
agent_start || { fail "agent starts"; return; }
P=$STATE/podman
mkdir -p "$P/tmp"
cni_conflists "$P/cni"
cat >"$P/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$P/events.log"
tmp_dir = "$P/tmp"
[network]
network_backend = "cni"
network_config_dir = "$P/cni"
cni_plugin_dirs = ["$(dirname "$BIN")", "/usr/lib/cni"]
CONF
cat >"$P/storage.conf" <<CONF
[storage]
driver = "vfs"
graphroot = "$P/root"
runroot = "$P/run"
CONF
pm() { CONTAINERS_CONF=$P/containers.conf CONTAINERS_STORAGE_CONF=$P/storage.conf in_host podman "$@"; }
# prun NAME NETWORK [podman run options...] [-- command...]: a container of the busybox image, detached;
# httpd answers on port 80 unless a command is given.
prun() {
    local name=$1 net=$2; shift 2
    local options=() command=(httpd -f -p 0.0.0.0:80 -h /www)
    while [ $# -gt 0 ] && [ "$1" != -- ]; do options+=("$1"); shift; done
    [ "${1:-}" = -- ] && { shift; command=("$@"); }
    pm run -d --name "$name" --network "$net" --cgroup-parent "/$TAG/podman" "${options[@]}" localhost/busybox "${command[@]}"
}
# What podman leaves: its containers and their namespaces (under the machine's /run/netns).
podman_down() {
    local ids namespaces
    ids=$(pm ps -aq)
    [ -n "$ids" ] || return 0
    namespaces=$(pm inspect -f '{{.NetworkSettings.SandboxKey}}' $ids 2>/dev/null | grep '^/run/netns/')
    pm rm -af -t 0 >/dev/null 2>&1
    for ns in $namespaces; do [ -e "$ns" ] && { umount -l "$ns"; rm -f "$ns"; }; done
}
on_down podman_down
# Podman keeps a blob cache and libcni its results under /var/lib whatever the options: made here, removed here.
for dir in /var/lib/containers /var/lib/cni; do [ -e "$dir" ] || on_down rm -rf "$dir"; done

busybox_rootfs "$P/rootfs.tar"
check "the busybox image is imported" pm import -q "$P/rootfs.tar" localhost/busybox
# from_ext PORT CLIENT: the external client's request to the host's port answers, the
# container seeing CLIENT as its address.
from_ext() { eventually 5 in_ext sh -c "curl -s --max-time 2 http://198.51.100.1:$1/cgi-bin/ip | grep -x '$2'"; }
stop_start() { pm stop -t 0 "$1" >/dev/null && pm start "$1" >/dev/null; }
refused() { ! in_ext curl -s --max-time 2 "http://198.51.100.1:$1/" >/dev/null; }

check "a Bridgeport container on its bridge network" bp run -d --name isolated-from --net bridge
for net in chained main; do
    port=$([ $net = chained ] && echo 8080 || echo 8090)
    echo "  -- $net"
    check "podman run -d -p $port:80 on the $net network" prun web-$net $net -p $port:80
    id=$(pm inspect -f '{{.Id}}' web-$net)
    check "the container is reached on the host's port from the external namespace, the client's address kept" \
        from_ext $port 198.51.100.2
    check_output "hairpin: a container reaches the published port at the host's address" '^10\.22[45]\.0\.[0-9]+$' \
        pm run --rm --network $net --cgroup-parent "/$TAG/podman" localhost/busybox \
        sh -c "printf 'GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n' | nc -w 3 198.51.100.1 $port | tail -1"
    check_output "the published port's packets are counted, under podman's container ID" \
        "bridgeport_published_port_packets_total\{protocol=\"tcp\",host_ip=\"0\.0\.0\.0\",host_port=\"$port\",container=\"$id\",container_port=\"80\"\} [1-9]" metrics
    check_output "the container's veth is counted on the $net network" \
        "bridgeport_container_network_receive_packets_total\{container=\"$id\",network=\"$net\",interface=\"veth[^\"]+\"\} [1-9]" metrics
    check "no nftables rule in the host namespace" no_nft_rules
    # The CNI network is isolated as Bridgeport's own are (chained: its subnet from the bridge plugin's result).
    ip=$(pm exec web-$net ip -4 -o addr show eth0 | awk '{ split($4, a, "/"); print a[1] }')
    check_fails "a Bridgeport container on another network does not reach the $net container ($ip)" 1 '100% packet loss' \
        bp exec isolated-from ping -c 2 -W 1 "$ip"
    check_fails "another container cannot take host port $port" 126 "port is already allocated|address already in use" prun web2-$net $net -p $port:80
    pm rm -f web2-$net >/dev/null 2>&1
    check "the first container still answers" from_ext $port 198.51.100.2
    check "podman stop" pm stop -t 0 web-$net
    check "the stopped container's port is refused" refused $port
    check "podman start" pm start web-$net
    check "it answers again" from_ext $port 198.51.100.2
    check "podman restart" pm restart -t 0 web-$net
    check "it answers after the restart" from_ext $port 198.51.100.2
    # Podman 4.3's reload with CNI is a DEL and an ADD that carries no runtimeConfig, so no
    # portMappings: any port plugin (portmap too) is told the container has no ports. Only
    # the network itself is checked after it; a restart asks for the ports again.
    check "podman network reload" pm network reload web-$net
    address=$(pm inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' web-$net)
    check_output "the container's own address still answers after the reload" '^hello$' in_host curl -s --max-time 3 "http://$address/"
    check "podman restart after the reload" pm restart -t 0 web-$net
    check "its port answers again" from_ext $port 198.51.100.2
    for round in 1 2 3; do
        check "stop and start, round $round" stop_start web-$net
        check "... it answers" from_ext $port 198.51.100.2
    done
    check "podman rm -f" pm rm -f -t 0 web-$net
    check "its port is gone" refused $port
    check_output "and no attachment is left" '^bridgeport_published_ports 0$' metrics
done
