# `run`'s network flags as Docker's: --network many times and in its long form,
# --network container:NAME, -P with --expose, --rm, and -i/-t attached to the caller.
agent_start || { fail "agent starts"; return; }

check "network front" bp network create --subnet 10.231.1.0/24 front
check "network back" bp network create --subnet 10.231.2.0/24 back

# --network, many times; the long form sets the address and aliases of one.
check "run on two networks (the second in the long form)" \
    bp run -d --name multi --network front --network name=back,ip=10.231.2.9,alias=db --cap-add NET_ADMIN
check_output "eth0 is on the first network" '^eth0 +10\.231\.1\.' \
    bp exec multi sh -c "ip -o -4 addr show dev eth0 | awk '{ print \$2, \$4 }'"
check_output "eth1 has the address asked for on the second" '^eth1 +10\.231\.2\.9/24$' \
    bp exec multi sh -c "ip -o -4 addr show dev eth1 | awk '{ print \$2, \$4 }'"
check_output "the default route is the first network's" '^default via 10\.231\.1\.1 dev eth0' bp exec multi ip route
check_output "inspect lists both networks" '"back":.*"front":' bp inspect -f '{{json .NetworkSettings.Networks}}' multi
check_output "NetworkMode is the first network" '^front$' bp inspect -f '{{.HostConfig.NetworkMode}}' multi
check "a peer on back" bp run -d --name peer --network back
check_output "... resolves the long form's alias" '10\.231\.2\.9' bp exec peer nslookup db 127.0.0.11
check_output "... and pings it" '1 (packets )?received' bp exec peer ping -c1 -W2 10.231.2.9

# Bad --network values: Docker's messages, exit 125, nothing made.
count_containers() { bp ps -aq | wc -l; }
before=$(count_containers)
veths=$(ip -o link | wc -l)
check_fails "a user-defined and the default bridge together" 125 \
    'conflicting options: cannot attach both user-defined and non-user-defined network-modes' \
    bp run -d --network front --network bridge
check_fails "an unknown long-form field" 125 'invalid argument "name=front,foo=1" for "--network" flag: invalid field key foo' \
    bp run -d --network name=front,foo=1
check_fails "a network given twice" 125 'network "front" is specified multiple times' \
    bp run -d --network front --network name=front
check_fails "--ip and the long form's ip" 125 'conflicting options: cannot specify both --ip and per-network IPv4 address' \
    bp run -d --ip 10.231.1.7 --network name=front,ip=10.231.1.8
check_fails "an address in use on the second network" 125 'Address already in use: 10\.231\.2\.9' \
    bp run -d --name late --network front --network name=back,ip=10.231.2.9
check_output "... and no container was left" "^$before\$" count_containers
check_output "... nor an interface" "^$veths\$" eval 'ip -o link | wc -l'

# --network container:NAME shares the namespace, hostname and name files of another.
check "a server sharing multi's namespace" \
    bp run -d --name side --network container:multi -- python3 "$TOOLS/echo.py" --tcp 8080
wait_ready side
check_output "it has multi's addresses" '10\.231\.2\.9/24' bp exec side ip -o -4 addr
check_output "and multi's hostname" "^$(bp inspect -f '{{.Config.Hostname}}' multi)\$" bp exec side hostname
check_output "NetworkMode names multi's ID" "^container:$(bp inspect -f '{{.Id}}' multi)\$" \
    bp inspect -f '{{.HostConfig.NetworkMode}}' side
check_output "a peer reaches its server at multi's address" '^8080 10\.231\.2\.[0-9]+ hi$' \
    bp exec peer python3 "$TOOLS/probe.py" tcp 10.231.2.9 8080 hi
check_fails "publishing is refused" 125 'conflicting options: port publishing and the container type network mode' \
    bp run -d --network container:multi -p 80
check_fails "--hostname is refused" 125 'conflicting options: hostname and the network mode' \
    bp run -d --network container:multi -h x
check_fails "an unknown container" 125 'No such container: nope' bp run -d --network container:nope
check "a stopped container" bp run -d --name gone
check "... stop" bp stop -t 0 gone
check_fails "... cannot be joined" 125 'cannot join network of a non running container: gone' \
    bp run -d --network container:gone
check "rm side" bp rm -f side

# -P publishes every exposed port (and -p's) to a free host port.
check "-P with --expose" bp run -d --name all -P --expose 8080 --expose 7000-7001/udp -p 18081:9000 \
    -- python3 "$TOOLS/echo.py" --tcp 8080
wait_ready all
check_output "four ports published" '^4$' eval "'$BIN' port all | wc -l"
check_output "-p's binding kept" '^0\.0\.0\.0:18081$' bp port all 9000
hostport=$(bp port all 8080/tcp | sed 's/.*://')
check_output "8080 got an ephemeral host port ($hostport)" '^(3[2-9]|[4-5][0-9]|60)[0-9]{3}$' echo "$hostport"
check_output "... which answers" '^8080 198\.51\.100\.2 hi$' ext_probe tcp 198.51.100.1 "$hostport" hi
check_output "ExposedPorts lists them" '"7000/udp".*"7001/udp".*"8080/tcp".*"9000/tcp"' \
    bp inspect -f '{{json .Config.ExposedPorts}}' all
check_output "PublishAllPorts is true" '^true$' bp inspect -f '{{.HostConfig.PublishAllPorts}}' all
check_fails "a bad --expose" 125 'invalid range format for --expose: foo' bp run -d --expose foo
check_fails "-P with container: is refused" 125 'port publishing' bp run -d --network container:multi -P

# --rm: gone when the command ends, whichever way it ends.
check_fails "attached --rm passes the exit code and output on" 3 '^out$' bp run --rm --name once sh -c 'echo out; exit 3'
check_output "... and the container is gone" '^0$' eval "'$BIN' ps -a --no-trunc | grep -c ' once\$'"
check "--rm -d" bp run -d --rm --name brief sh -c 'sleep 0.5'
check "... is removed when it exits" eventually 5 bash -c "! '$BIN' ps -a | grep -q ' brief\$'"
check "--rm -d, stopped" bp run -d --rm --name stopped
check "... stop" bp stop -t 0 stopped
check_fails "... is removed by stop" 1 'No such container: stopped' bp inspect --type container stopped
check_output "AutoRemove shows" '^true$' bash -c "'$BIN' run -d --rm --name shown >/dev/null && '$BIN' inspect -f '{{.HostConfig.AutoRemove}}' shown"
check "rm shown" bp rm -f shown

# -i and -t: the command uses the caller's stdin, and its terminal.
check_output "-i: the command reads our stdin" '^hello$' bash -c "echo hello | '$BIN' run -i --rm cat"
check_output "-t: the command writes to our terminal" 'tty' \
    script -qec "'$BIN' run -t --rm sh -c 'test -t 1 && echo tty'" /dev/null
check_output "-it: it reads the terminal too" 'ttyin' \
    script -qec "'$BIN' run -it --rm sh -c 'test -t 0 && echo ttyin'" /dev/null
check_fails "-it without a terminal" 1 'the input device is not a TTY' bp run -it --rm sh </dev/null

check "rm all" bp rm -f multi peer gone all
check "networks go" bp network rm front back
