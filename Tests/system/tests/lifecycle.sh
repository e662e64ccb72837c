# Containers' lifecycle as Docker's: a container is its own PID namespace, with the command
# as PID 1; stopping it ends every process in it.
agent_start || { fail "agent starts"; return; }

check "a container whose command starts a child" bp run -d --name parent sh -c 'sleep 1000 & echo ready; wait'
wait_ready parent
pid=$(bp inspect -f '{{.State.Pid}}' parent)
child=$(cat /proc/"$pid"/task/"$pid"/children 2>/dev/null | awk '{ print $1 }')
check "the child runs (host PID $child)" kill -0 "${child:-0}"
check_output "inside, the command is PID 1" '^ *1 +sh -c' bp exec parent ps -o pid=,args=
check_output "inside, only the container's processes" '^3$' bash -c "'$BIN' exec parent ps -o pid= | grep -vc \"\$\$\" "
check_output "stop -t 1 prints the name" '^parent$' bp stop -t 1 parent
check "... and the child is gone with it" bash -c "! kill -0 ${child:-0} 2>/dev/null"
check_output "... exited 137 (killed after the timeout: PID 1 ignores SIGTERM)" '^137$' bp inspect -f '{{.State.ExitCode}}' parent

# Ports on stop and start: released while stopped, taken again by start, as in Docker.
check "a published server" bp run -d --name srv -p 18080:80 -- python3 "$TOOLS/echo.py" --tcp 80
wait_ready srv
check_output "it answers on the published port" '^80 198\.51\.100\.2 hi$' ext_probe tcp 198.51.100.1 18080 hi
check "stop it" bp stop -t 1 srv
check_output "port lists nothing while it is stopped" '^$' bp port srv
check_output "ps -a shows no ports" ' srv$' bash -c "'$BIN' ps -a | grep -E '^[0-9a-f]+ .* srv$' | grep -v 18080"
check_output "inspect publishes nothing while stopped" '^\{\}$' bp inspect -f '{{json .NetworkSettings.Ports}}' srv
check_output "... and keeps the binding asked for" '"HostPort": ?"18080"' bp inspect -f '{{json .HostConfig.PortBindings}}' srv
check "another container takes the port meanwhile" bp run -d --name thief -p 18080:80 -- python3 "$TOOLS/echo.py" --tcp 80
check_fails "start fails with Docker's message" 1 'Bind for 0\.0\.0\.0:18080 failed: port is already allocated' bp start srv
check_output "... and names the container" '^Error: failed to start containers: srv$' bash -c "'$BIN' start srv 2>&1 >/dev/null | tail -1"
check "rm the other" bp rm -f thief
check_output "start prints the name" '^srv$' bp start srv
wait_ready srv
check_output "it answers on its port again" '^80 198\.51\.100\.2 back$' eventually 5 ext_probe tcp 198.51.100.1 18080 back
check_output "port lists it again" '^80/tcp -> 0\.0\.0\.0:18080$' bp port srv
check_output "restart prints the name" '^srv$' bp restart -t 1 srv
check_output "... and it answers after" '^80 198\.51\.100\.2 again$' eventually 5 ext_probe tcp 198.51.100.1 18080 again
check_output "start of a running container is a no-op" '^srv$' bp start srv
check "rm -f" bp rm -f srv parent

# Docker's default confinement: its capability set, no_new_privs, masked and read-only /proc
# paths; --cap-add, --cap-drop and --privileged change it, and exec runs confined the same.
status_field() { bp exec "$1" sh -c "grep '^$2:' /proc/self/status | awk '{ print \$2 }'"; }
check "a container with Docker's defaults" bp run -d --name plain
check_output "its capabilities are Docker's default set" '^00000000a80425fb$' status_field plain CapEff
check_output "... bounding set too" '^00000000a80425fb$' status_field plain CapBnd
check_output "no_new_privs is set" '^1$' status_field plain NoNewPrivs
check_fails "it cannot change its own address" 2 'Operation not permitted' bp exec plain ip addr add 10.200.0.1/32 dev lo
check_fails "/proc/sys is read-only" 2 'Read-only file system' bp exec plain sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
check_output "/proc/interrupts is masked" '^0$' bp exec plain sh -c 'wc -c </proc/interrupts'
check_output "/proc/1 is its own command, not the host's init" 'sleep' bp exec plain cat /proc/1/cmdline
check_output "/sys is read-only" '^ro' bp exec plain awk '$5 == "/sys" { print $6 }' /proc/self/mountinfo
check_fails "the agent's API socket is hidden (the container shares the host's files)" 1 '' \
    bp exec plain test -S "$BRIDGEPORT_SOCKET"
check_output "... and so are its state and BPF pins" '^0 0$' \
    bp exec plain sh -c "echo \$(ls -A '$STATE/state' | wc -l) \$(ls -A '$STATE/bpf' | wc -l)"
check "--cap-add NET_ADMIN" bp run -d --name admin --cap-add net_admin
check "... may change its address" bp exec admin ip addr add 10.200.0.1/32 dev lo
check_output "--cap-drop ALL --cap-add NET_BIND_SERVICE keeps that one" '^0000000000000400$' \
    bash -c "'$BIN' run -d --name one --cap-drop ALL --cap-add CAP_NET_BIND_SERVICE >/dev/null && grep '^CapEff:' /proc/\$('$BIN' inspect -f '{{.State.Pid}}' one)/status | awk '{ print \$2 }'"
check "--privileged" bp run -d --name priv --privileged
check_output "... has every capability the agent has" "^$(awk '/^CapEff:/ { print $2 }' /proc/"$AGENT_PID"/status)$" status_field priv CapEff
check "... and may write /proc/sys" bp exec priv sh -c 'echo 1 >/proc/sys/net/ipv4/ip_forward'
check_output "inspect shows them" '^\["CAP_NET_ADMIN"\] true$' bash -c "echo \$('$BIN' inspect -f '{{json .HostConfig.CapAdd}}' admin) \$('$BIN' inspect -f '{{.HostConfig.Privileged}}' priv)"
check_fails "an unknown capability exits 125" 125 'unknown capability: "CAP_FOO"' bp run -d --name bad --cap-add foo
check_fails "... and creates nothing" 1 'No such container: bad' bp inspect --type container bad
check_fails "inspect --type network does not find a container" 1 'No such network: plain' bp inspect --type network plain
check "rm them" bp rm -f plain admin one priv

# Flags Docker users type every day.
check "a network" bp network create --subnet 10.61.0.0/24 mynet
check "-it, --mac-address and --sysctl" bp run -d -it --name flags --net mynet --mac-address 92:d0:c6:0a:29:33 \
    --sysctl net.ipv4.ip_unprivileged_port_start=80 --sysctl net.ipv4.conf.all.forwarding=1
check_output "the hostname is the short ID" "^$(bp inspect -f '{{.Id}}' flags | cut -c1-12)$" bp exec flags hostname
check_output "eth0 has the MAC asked for" 'link/ether 92:d0:c6:0a:29:33' bp exec flags ip link show eth0
check_output "inspect shows it" '^92:d0:c6:0a:29:33$' bp inspect -f '{{.NetworkSettings.Networks.mynet.MacAddress}}' flags
check_output "the sysctls are set in its namespace" '^80 1$' bp exec flags sh -c 'echo $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/conf/all/forwarding)'
check_output "... and not in the host's (its default, 1024)" '^1024$' in_host cat /proc/sys/net/ipv4/ip_unprivileged_port_start
check_fails "a sysctl outside net.* exits 125" 125 "sysctl 'kernel.domainname' is not whitelisted" bp run -d --name bad --sysctl kernel.domainname=x
check_fails "a path in a sysctl's name exits 125" 125 "is not whitelisted" bp run -d --name bad --sysctl net.ipv4/../../kernel/x=1
check_fails "a sysctl that does not exist fails the run" 125 'net/ipv4/nope' bp run -d --name bad --net mynet --sysctl net.ipv4.nope=1
check_fails "... and leaves nothing" 1 'No such container: bad' bp inspect --type container bad
check_fails "a multicast MAC exits 125" 125 'is not a valid mac address' bp run -d --name bad --mac-address 01:00:5e:00:00:01
check_fails "a MAC in use on the network exits 125" 125 'in use' bp run -d --name bad --net mynet --mac-address 92:d0:c6:0a:29:33
check_output "the none network's driver is null, as Docker shows it" '^null$' bp network inspect -f '{{.Driver}}' none
check "rm" bp rm -f flags
check_output "network rm -f of a network that is not there: no error" '^$' bp network rm -f no-such-network
check_fails "... without -f it is one" 1 'network no-such-network not found' bp network rm no-such-network
check "network create --attachable" bp network create --attachable --subnet 10.62.0.0/24 att
check_output "Attachable is stored" '^true false$' bash -c "echo \$('$BIN' network inspect -f '{{.Attachable}}' att mynet)"
check "disconnect -f" bash -c "'$BIN' run -d --name leaver --net mynet >/dev/null && '$BIN' network disconnect -f mynet leaver"
check "rm" bp rm -f leaver
check "a range of published ports" bp run -d --name ranged -p 16000-16001:7000-7001
check_output "ps merges it as Docker does" '0\.0\.0\.0:16000-16001->7000-7001/tcp +ranged$' bp ps
check "rm" bp rm -f ranged
check "network create --label" bp network create --label tier=web --label owner --subnet 10.63.0.0/24 labelled
check_output "ls --filter label=tier=web" '"Name":"labelled"' bp network ls --filter label=tier=web --format json
check_output "ls --filter type=builtin" '^bridge host none$' bash -c "'$BIN' network ls --filter type=builtin | awk 'NR > 1 { print \$2 }' | paste -sd' ' -"
check_output "ls --filter driver=null --filter name=o (both)" '^none$' bash -c "'$BIN' network ls -f driver=null -f name=o | awk 'NR > 1 { print \$2 }'"
check_output "inspect shows the labels" '^\{"owner":"","tier":"web"\}$' bp network inspect -f '{{json .Labels}}' labelled
check_fails "an unknown filter is refused" 1 "invalid filter 'colour'" bp network ls --filter colour=red

# A container whose command ends on its own releases its ports too, as Docker's does.
check "a container that publishes a port and exits" bp run -d --name brief -p 18090:80 -- sh -c 'sleep 0.5; exit 3'
check_output "its port is released once it has exited" '^$' eventually 5 bash -c "[ -z \"\$('$BIN' port brief)\" ] && '$BIN' port brief"
check_output "... which another container may take" '^80/tcp -> 0\.0\.0\.0:18090$' bash -c "'$BIN' run -d --name taker -p 18090:80 >/dev/null && '$BIN' port taker"
check_fails "... so it cannot start again while it is taken" 1 'port is already allocated' bp start brief
check_output "its exit code is recorded" '^3$' bp inspect -f '{{.State.ExitCode}}' brief
check "rm" bp rm -f brief taker
