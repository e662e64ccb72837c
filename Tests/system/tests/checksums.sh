# The checksums the programs compute: with the devices' checksum offloads off, every packet
# a translation touched carries a checksum its receiver verifies in software. The other
# tests' packets come from local sockets over veths, whose checksums stay offloaded
# (CHECKSUM_PARTIAL: the kernel's helpers update them, nobody verifies them); a NIC's
# packets come verified instead (CHECKSUM_UNNECESSARY), and the programs then compute the
# L4 checksum themselves (lib/csum.h). So here: the client and the container send with
# software checksums (tx off), and the uplink and the client take nothing as verified
# (rx off): a published flow's packets reach the container, and its replies the client,
# as CHECKSUM_NONE, and both kernels check every segment.
agent_start || { fail "agent starts"; return; }

# in_container NAME CMD...: in the container's network namespace, from the host's files.
in_container() {
    local pid
    pid=$(bp inspect -f '{{.State.Pid}}' "$1") && shift && nsenter --net=/proc/"$pid"/ns/net "$@"
}
# checksum_errors NAME|ext: the TCP and UDP segments its kernel refused for their checksum.
checksum_errors() {
    local where=("$@")
    "${where[@]}" awk '$1 ~ /^(Tcp|Udp):$/ && !seen[$1]++ { for (i = 2; i <= NF; i++) column[$1, i] = $i; next }
        $1 ~ /^(Tcp|Udp):$/ { for (i = 2; i <= NF; i++) if (column[$1, i] == "InCsumErrors") sum += $i }
        END { print sum + 0 }' /proc/net/snmp
}

check "network create" bp network create --subnet 10.44.0.0/24 sums
check "run a server with published TCP and UDP ports" \
    bp run -d --name srv --net sums -p 5000:80 -p 5353:53/udp -- python3 "$TOOLS/echo.py" --tcp 80 --udp 53
wait_ready srv
check "the client sends with software checksums and verifies what it receives" \
    in_ext ethtool -K "$TAG-ext" tx off rx off
check "the uplink takes nothing as verified" in_host ethtool -K "$TAG-up" rx off
check "the container sends with software checksums" in_container srv ethtool -K eth0 tx off

check_output "TCP through the published port, both ways" '^20$' answered 20 '^80 198\.51\.100\.2 x$' ext_probe tcp 198.51.100.1 5000 x
check_output "UDP through the published port, both ways" '^20$' answered 20 '^53 198\.51\.100\.2 y$' ext_probe udp 198.51.100.1 5353 y
check_output "UDP without a checksum too (0 stays 0)" '^53 198\.51\.100\.2 z$' \
    in_ext python3 "$TOOLS/probe.py" udp 198.51.100.1 5353 z --no-checksum
check_output "the container's kernel refused no segment for its checksum" '^0$' checksum_errors in_container srv
check_output "nor the client's" '^0$' checksum_errors in_ext
check "rm -f srv" bp rm -f srv
