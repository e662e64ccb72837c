# The checksums the programs compute: with the senders' checksum offloads off, every packet
# a translation touched carries a checksum its receiver verifies in software. The other
# tests' packets come from local sockets over veths, whose checksums stay offloaded
# (CHECKSUM_PARTIAL: the kernel's helpers update them, and nobody verifies them); a NIC's
# packets come verified instead (CHECKSUM_UNNECESSARY), and the programs then compute the
# L4 checksum themselves (bpf/lib/csum.h), as they do for the CHECKSUM_NONE packets a
# veth passes on when its sender summed them in software (tx off). So here: the client and
# the container send with software checksums; a published flow's packets reach the
# container, its replies the client, and the container's masqueraded flow goes out and
# back, all CHECKSUM_NONE and translated by the programs' arithmetic, and both kernels
# check every segment. Then the same over IPv6 (DNAT66 and NAT66), and the offloaded
# checksums' fields.
ipv6_uplink
agent_start || { fail "agent starts"; return; }
in_ext python3 "$TOOLS/echo.py" --tcp 9000 --udp 9001 >"$STATE/ext-echo.log" 2>&1 &
in_ext python3 "$TOOLS/echo.py" --ipv6 --tcp 9100 --udp 9101 >"$STATE/ext-echo6.log" 2>&1 &
wait_ready "$STATE/ext-echo.log" "$STATE/ext-echo6.log"

# in_container NAME CMD...: in the container's network namespace, from the host's files.
in_container() {
    local pid
    pid=$(bp inspect -f '{{.State.Pid}}' "$1") && shift && nsenter --net=/proc/"$pid"/ns/net "$@"
}
# checksum_errors CMD...: the TCP and UDP segments refused for their checksum by the kernel
# of the namespace CMD runs in (in_ext, or in_container NAME): TCP's over both families, UDP's
# over IPv4 (/proc/net/snmp), UDP's over IPv6 (/proc/net/snmp6).
checksum_errors() {
    "$@" awk '$1 ~ /^(Tcp|Udp):$/ && !seen[$1]++ { for (i = 2; i <= NF; i++) column[$1, i] = $i; next }
        $1 ~ /^(Tcp|Udp):$/ { for (i = 2; i <= NF; i++) if (column[$1, i] == "InCsumErrors") sum += $i }
        $1 == "Udp6InCsumErrors" { sum += $2 }
        END { print sum + 0 }' /proc/net/snmp /proc/net/snmp6
}

check "network create" bp network create --subnet 10.44.0.0/24 sums
check "run a server with published TCP and UDP ports" \
    bp run -d --name srv --net sums -p 5000:80 -p 5353:53/udp -- python3 "$TOOLS/echo.py" --tcp 80 --udp 53
wait_ready srv
check "the client sends with software checksums" in_ext ethtool -K "$TAG-ext" tx off
check "the container too" in_container srv ethtool -K eth0 tx off

check_output "TCP through the published port, both ways" '^20$' answered 20 '^80 198\.51\.100\.2 x$' ext_probe tcp 198.51.100.1 5000 x
check_output "UDP through the published port, both ways" '^20$' answered 20 '^53 198\.51\.100\.2 y$' ext_probe udp 198.51.100.1 5353 y
check_output "UDP without a checksum too (0 stays 0)" '^53 198\.51\.100\.2 z$' \
    in_ext python3 "$TOOLS/probe.py" udp 198.51.100.1 5353 z --no-checksum
check_output "TCP out of the container, masqueraded, both ways" '^20$' \
    answered 20 '^9000 198\.51\.100\.1 m$' bp exec srv python3 "$TOOLS/probe.py" tcp 198.51.100.2 9000 m
check_output "UDP out, masqueraded" '^9001 198\.51\.100\.1 u$' bp exec srv python3 "$TOOLS/probe.py" udp 198.51.100.2 9001 u
check_output "the container's kernel refused no segment for its checksum" '^0$' checksum_errors in_container srv
check_output "nor the client's" '^0$' checksum_errors in_ext
check "rm -f srv" bp rm -f srv

# IPv6: the programs' own arithmetic for a 16-byte address in the pseudo-header.
check "a dual-stack network" bp network create --ipv6 --subnet 10.44.1.0/24 --subnet fd00:44:1::/64 sums6
check "run an IPv6 server with published TCP and UDP ports" \
    bp run -d --name srv6 --net sums6 -p 5000:80 -p 5353:53/udp -- python3 "$TOOLS/echo.py" --ipv6 --tcp 80 --udp 53
wait_ready srv6
check "the container sends with software checksums" in_container srv6 ethtool -K eth0 tx off
check_output "TCP over IPv6 through the published port, both ways" '^20$' \
    answered 20 '^80 fd00:5100::2 x$' ext_probe tcp fd00:5100::1 5000 x
check_output "UDP over IPv6 through the published port, both ways" '^20$' \
    answered 20 '^53 fd00:5100::2 y$' ext_probe udp fd00:5100::1 5353 y
check_output "TCP out of the container over IPv6, masqueraded (NAT66), both ways" '^20$' \
    answered 20 '^9100 fd00:5100::1 m$' bp exec srv6 python3 "$TOOLS/probe.py" tcp fd00:5100::2 9100 m
check_output "UDP out over IPv6, masqueraded" '^9101 fd00:5100::1 u$' \
    bp exec srv6 python3 "$TOOLS/probe.py" udp fd00:5100::2 9101 u
check_output "the container's kernel refused no segment for its checksum (IPv6)" '^0$' checksum_errors in_container srv6
check_output "nor the client's (IPv6)" '^0$' checksum_errors in_ext

# Offloaded checksums (CHECKSUM_PARTIAL, the senders' default over veths): the field holds
# the pseudo-header's sum, which the programs move for the new address. With the host's
# uplink summing in software (tx off), what leaves by it, a published flow's replies and a
# masqueraded flow's packets, is completed from that field, and the client's kernel checks
# it. (Toward a container the packet stays offloaded: bpf_redirect_peer sums nothing. The
# arithmetic is the same function's.)
check "the client offloads its checksums again" in_ext ethtool -K "$TAG-ext" tx on
check "the container offloads again too" in_container srv6 ethtool -K eth0 tx on
check "the host's uplink sums in software" in_host ethtool -K "$TAG-up" tx off
check_output "offloaded: TCP replies through the published port (IPv4)" '^20$' \
    answered 20 '^80 (::ffff:)?198\.51\.100\.2 o$' ext_probe tcp 198.51.100.1 5000 o
check_output "offloaded: TCP replies through the published port (IPv6)" '^20$' \
    answered 20 '^80 fd00:5100::2 o$' ext_probe tcp fd00:5100::1 5000 o
check_output "offloaded: UDP replies through the published port (IPv4)" '^53 (::ffff:)?198\.51\.100\.2 p$' \
    ext_probe udp 198.51.100.1 5353 p
check_output "offloaded: UDP replies through the published port (IPv6)" '^53 fd00:5100::2 p$' \
    ext_probe udp fd00:5100::1 5353 p
check_output "offloaded: TCP out of the container, masqueraded (IPv4)" '^20$' \
    answered 20 '^9000 198\.51\.100\.1 q$' bp exec srv6 python3 "$TOOLS/probe.py" tcp 198.51.100.2 9000 q
check_output "offloaded: TCP out of the container, masqueraded (IPv6)" '^20$' \
    answered 20 '^9100 fd00:5100::1 q$' bp exec srv6 python3 "$TOOLS/probe.py" tcp fd00:5100::2 9100 q
check_output "offloaded: UDP out, masqueraded (IPv4)" '^9001 198\.51\.100\.1 r$' \
    bp exec srv6 python3 "$TOOLS/probe.py" udp 198.51.100.2 9001 r
check_output "offloaded: UDP out, masqueraded (IPv6)" '^9101 fd00:5100::1 r$' \
    bp exec srv6 python3 "$TOOLS/probe.py" udp fd00:5100::2 9101 r
check_output "the client's kernel refused no segment for its checksum (offloaded)" '^0$' checksum_errors in_ext
check "rm -f srv6" bp rm -f srv6
