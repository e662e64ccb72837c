# dockerd (Debian's docker.io 20.10, unmodified) with Bridgeport as its remote network
# driver: `docker network create -d bridgeport`, published ports, hairpin, embedded DNS,
# connect/disconnect, counters, rm, agent restart. dockerd runs in the sandbox's host
# namespace and a mount namespace of its own, where /etc/docker is the test's (the plugin's
# .spec file); its data, exec root and socket are under $STATE, with no iptables.
DOCKER_SOCK=$STATE/docker.sock
PLUGIN_SOCK=$STATE/plugins/bridgeport.sock
docker() { command docker -H "unix://$DOCKER_SOCK" "$@"; }
# http_get CONTAINER HOST PORT: the body's last line, fetched from inside the container
# (busybox's nc: the static busybox's wget crashes).
http_get() { docker exec "$1" sh -c "printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 5 $2 $3 | tail -1"; }

# dockerd and the agent share a mount namespace of the sandbox's: the agent opens the
# sandboxes dockerd mounts, and dockerd finds the plugin in an /etc/docker of the test's.
sandbox_mount_namespace || { fail "a mount namespace for dockerd and the agent"; return; }
AGENT_ENTER="nsenter --mount=$STATE/mnt/ns"
mkdir -p "$STATE/docker-etc/plugins"
echo "unix://$PLUGIN_SOCK" >"$STATE/docker-etc/plugins/bridgeport.spec"
$AGENT_ENTER mount --bind "$STATE/docker-etc" /etc/docker
agent_start --docker-plugin-socket "$PLUGIN_SOCK" || { fail "agent starts"; return; }

dockerd_start() {
    mkdir -p "$CGROUP/docker"
    sh -c 'echo $$ >"$0/docker/cgroup.procs" && exec "$@"' "$CGROUP" \
        $AGENT_ENTER nsenter --net=/run/netns/"$HOST_NS" \
        dockerd -H "unix://$DOCKER_SOCK" --data-root "$STATE/docker" --exec-root "$STATE/docker-run" --pidfile "$STATE/dockerd.pid" \
        --iptables=false --ip-masq=false --ip-forward=false --bridge=none --userland-proxy=false --storage-driver=vfs \
        --cgroup-parent "/$TAG/docker" >>"$STATE/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    for _ in $(seq 1 200); do docker version >/dev/null 2>&1 && return 0; kill -0 $DOCKERD_PID 2>/dev/null || break; sleep 0.1; done
    tail -20 "$STATE/dockerd.log"; return 1
}
dockerd_stop() {
    [ -n "${DOCKERD_PID:-}" ] || return 0
    terminate "$DOCKERD_PID" 20
    DOCKERD_PID=
}
on_down dockerd_stop
check "dockerd starts in the sandbox" dockerd_start || return

# An image from Debian's busybox-static (no registry here).
busybox_rootfs "$STATE/busybox.tar"
check "import a busybox image" docker import "$STATE/busybox.tar" bp-busybox

check "docker network create -d bridgeport" docker network create -d bridgeport --subnet 10.91.0.0/24 dn
dn_id=$(docker network inspect -f '{{.Id}}' dn)
check_output "Bridgeport has it, with Docker's subnet" "docker-${dn_id:0:12} +bridge" bp network ls
check_output "its bridge has Docker's gateway" '10\.91\.0\.1/24' in_host ip -br addr show "br-${dn_id:0:12}"

server='exec httpd -f -vv -p 80 -h /www'
check "docker run -d -p 8080:80 --net dn" docker run -d --name web --net dn -p 8080:80 bp-busybox sh -c "$server"
check "docker run -d -p 80 (a random host port)" docker run -d --name web2 --net dn -p 80 bp-busybox sh -c "$server"
sleep 1
check_output "the published port answers from the external client" '^hello$' in_ext curl -s --max-time 5 http://198.51.100.1:8080/
check_fails "the agent holds the published port: a host process cannot bind it" 1 'Address already in use' \
    in_host python3 -c 'import socket; socket.socket().bind(("0.0.0.0", 8080))'
check_output "the container sees the client's address" '198\.51\.100\.2' docker logs web
# `docker port` stays empty with any remote driver: libnetwork reads the port map from the
# driver's EndpointOperInfo by Go type, which JSON never decodes to. The port shows in the metrics.
web2_ep=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.EndpointID}}{{end}}' web2)
random_port=$(metrics | sed -n "s/^bridgeport_published_port_flows_total{protocol=\"tcp\",host_ip=\"0.0.0.0\",host_port=\"\([0-9]*\)\",container=\"$web2_ep\".*/\1/p")
check_output "-p 80 got a host port from the ephemeral range" '^(3[2-9][0-9]{3}|[45][0-9]{4}|60[0-9]{3})$' echo "$random_port"
check_output "... which answers" '^hello$' in_ext curl -s --max-time 5 "http://198.51.100.1:$random_port/"
check "no iptables or nftables rule in the host namespace" no_nft_rules

check "a client container on dn" docker run -d --name cli --net dn bp-busybox sleep 600
check_output "embedded DNS: cli resolves web" '10\.91\.0\.' docker exec cli nslookup web
check_output "cli reaches web by name" '^hello$' http_get cli web 80
check_output "hairpin: cli reaches the published port at the host's address" '^hello$' http_get cli 198.51.100.1 8080

check "docker network create dn2" docker network create -d bridgeport --subnet 10.92.0.0/24 dn2
check "docker network connect dn2 cli" docker network connect dn2 cli
check_output "cli has an address on dn2" '10\.92\.0\.' docker exec cli ip -4 addr show
check "cli reaches dn2's gateway" docker exec cli ping -c 1 -W 2 10.92.0.1
check "docker network disconnect dn2 cli" docker network disconnect dn2 cli
check_output "cli's dn2 interface is gone" '^$' sh -c "command docker -H unix://$DOCKER_SOCK exec cli ip -4 addr show | grep 10.92.0."

web_ep=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.EndpointID}}{{end}}' web)
check_output "web's traffic is counted under its endpoint" \
    "bridgeport_container_network_receive_packets_total\\{container=\"${web_ep}\",network=\"docker-${dn_id:0:12}\"[^}]*\\} [1-9]" metrics
check_output "and its published port" \
    "bridgeport_published_port_packets_total\\{protocol=\"tcp\",host_ip=\"0\\.0\\.0\\.0\",host_port=\"8080\",container=\"${web_ep}\",container_port=\"80\"\\} [1-9]" metrics

agent_stop
agent_start --docker-plugin-socket "$PLUGIN_SOCK" || { fail "agent restarts"; return; }
check_output "after an agent restart the port still answers" '^hello$' in_ext curl -s --max-time 5 http://198.51.100.1:8080/
check "docker run after the agent restart" docker run -d --name web3 --net dn -p 8083:80 bp-busybox sh -c "$server"
sleep 1
check_output "... its port answers" '^hello$' in_ext curl -s --max-time 5 http://198.51.100.1:8083/

check "docker rm -f web" docker rm -f web
check "its port is gone" sh -c "! nsenter --net=/run/netns/$EXT_NS curl -s --max-time 2 http://198.51.100.1:8080/"
# IPv6: dockerd's IPAM gives the v6 pool and addresses; Bridgeport's policy judges them.
check "docker network create --ipv6" \
    docker network create -d bridgeport --ipv6 --subnet 10.93.0.0/24 --subnet fd00:93::/64 dn6
dn6_id=$(docker network inspect -f '{{.Id}}' dn6)
check_output "Bridgeport's network has the v6 subnet" 'fd00:93::/64' bp network inspect "docker-${dn6_id:0:12}"
check "two containers on it" sh -c "command docker -H unix://$DOCKER_SOCK run -d --name s1 --net dn6 bp-busybox sleep 600 >/dev/null &&
    command docker -H unix://$DOCKER_SOCK run -d --name s2 --net dn6 bp-busybox sleep 600 >/dev/null"
s2_ip6=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.GlobalIPv6Address}}{{end}}' s2)
check_output "s2 has a v6 address of the pool ($s2_ip6)" '^fd00:93::' echo "$s2_ip6"
check_output "s1 reaches s2 over IPv6" '1 packets received' \
    eventually 5 docker exec s1 ping -6 -c 1 -W 2 "$s2_ip6"
check_output "s1 reaches its v6 gateway" '1 packets received' eventually 5 docker exec s1 ping -6 -c 1 -W 2 fd00:93::1
check "docker rm -f s1 s2" docker rm -f s1 s2

check "docker rm -f the rest" docker rm -f web2 web3 cli
check "docker network rm dn dn2 dn6" docker network rm dn dn2 dn6
check_output "Bridgeport's networks are gone with them" '^$' sh -c "'$BIN' network ls | grep docker-"
check_output "no veth is left in the host namespace" '^$' sh -c "ip -n $HOST_NS -br link | grep ^veth"
check "dockerd stops" dockerd_stop
