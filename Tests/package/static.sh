# The release binaries (make release: BIN is build/release/bridgeport) on a machine without
# a Swift toolchain: the Swift runtime linked in, the BPF objects embedded. They run from a
# directory of their own, away from the source tree's build/bpf, in a mount namespace where
# /opt/swift (the toolchain) is an empty tmpfs: --version, the CNI plugin, and the agent
# started in the sandbox with a container.
mkdir -p "$STATE/bin"
cp "$BIN" "$(dirname "$BIN")/bridgeport-cni" "$STATE/bin/"
BIN=$STATE/bin/bridgeport
CNI_PLUGIN=$STATE/bin/bridgeport-cni

for binary in "$BIN" "$CNI_PLUGIN"; do
    check "$(basename "$binary") is stripped (no symbol table)" bash -c "! readelf -S '$binary' | grep -q '\.symtab'"
    check "ldd $(basename "$binary"): no Swift runtime, nothing from /opt" \
        bash -c "out=\$(ldd '$binary') && ! grep -E 'libswift|libFoundation|libdispatch|/opt/|not found' <<<\"\$out\""
done

sandbox_mount_namespace || { fail "a mount namespace of the test's own"; return; }
ENTER="nsenter --mount=$STATE/mnt/ns"
$ENTER mount -t tmpfs -o ro,size=4k tmpfs /opt/swift || { fail "/opt/swift hidden"; return; }
check "no toolchain in the test's mount namespace (/opt/swift empty)" $ENTER bash -c '[ -z "$(ls -A /opt/swift)" ]'
check "... and in the machine's, as it was" test -x /opt/swift/usr/bin/swift

check_output "bridgeport --version runs without the toolchain" '^0\.[0-9]+\.[0-9]+' $ENTER "$BIN" --version
check_output "bridgeport --help too" '^USAGE: bridgeport' $ENTER "$BIN" --help
check_output "bridgeport-cni VERSION too" '"supportedVersions"' env CNI_COMMAND=VERSION $ENTER "$CNI_PLUGIN"

# The agent, as lib.sh starts it, in that mount namespace; the CLI too.
AGENT_ENTER=$ENTER
agent_start || { fail "the agent starts without the toolchain, with its embedded BPF objects"; return; }
pass "the agent starts without the toolchain, with its embedded BPF objects"
check "... and maps nothing of /opt/swift" bash -c "! grep -E '/opt/swift|libswift' /proc/$AGENT_PID/maps"
bp_() { $ENTER "$BIN" "$@"; }
check "network create" bp_ network create --subnet 198.18.40.0/24 static
check "run -d with a published port" bp_ run -d --name s1 --net static -p 8080:80 -- python3 "$TOOLS/echo.py" --tcp 80
wait_ready s1
check_output "the container answers on its published port (the BPF programs run)" '^80 198\.51\.100\.2 hi$' \
    ext_probe tcp 198.51.100.1 8080 hi
check_output "ps lists it" '^s1$' bp_ ps --format '{{.Names}}'
# The binaries link FoundationEssentials, not all of Foundation: no ICU and its data (issue
# 20). Regular expressions (Swift's) still work, a locale changes nothing, and times show in
# TZ's zone (tzdata's, through the C library).
check "the binary carries no ICU data" bash -c "! grep -qa 'icudt[0-9]*l/' '$BIN'"
check_output "CreatedAt in a time zone of TZ's (America/New_York)" '^20[0-9-]{8} [0-9:]{8} -0[45]00 E[SD]T$' \
    env TZ=America/New_York $ENTER "$BIN" ps --format '{{.CreatedAt}}'
check_output "... in another (Asia/Kolkata), a network found by a regular expression" \
    '^static 20[0-9-]{8} [0-9:.]+ \+0530 ' env TZ=Asia/Kolkata $ENTER "$BIN" network ls --filter 'name=^st.t' --format '{{.Name}} {{.CreatedAt}}'
# networks_in LANG: the networks and their times, as a user of that locale lists them.
networks_in() { env LANG="$1" TZ=Asia/Kolkata $ENTER "$BIN" network ls --format '{{.Name}} {{.CreatedAt}}'; }
check "... and the same listing in another locale (de_DE)" \
    bash -c "[ '$(networks_in de_DE.UTF-8)' = '$(networks_in C.UTF-8)' ] && [ -n '$(networks_in C.UTF-8)' ]"
check "rm -f" bp_ rm -f s1
check "network rm" bp_ network rm static
agent_stop
