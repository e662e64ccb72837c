# DNS: the server the agent embeds at 127.0.0.11 in each container of a user-defined network,
# as Docker's: names, aliases, PTR, forwarding to the host's resolvers and to --dns, the
# resolv.conf and /etc/hosts Docker writes, the flags' bad input, inspect, the metrics,
# hostile queries from a container, an agent restart, and names across two hosts.
#
#   ext: stub 198.51.100.2:53        host: agent (--resolv-conf: 127.0.0.53), stub 127.0.0.53:53 on lo
#   frontnet 10.53.0.0/24: web (www, site), client, pool1 + pool2 (pool), ...   backnet 10.54.0.0/24: secret
#
# The stubs (tools/dns_stub.py) log every query they get: which.test answers differently on
# each, so an answer tells which upstream gave it.
cat >"$STATE/resolv.conf" <<'CONF'
# the host's resolvers as systemd-resolved writes them: a loopback one
nameserver 127.0.0.53
search corp.test
options edns0 trust-ad
CONF
dns_stub in_host 127.0.0.53 lo --a which.test=203.0.113.53 || fail "the stub on the host's lo listens"
dns_stub in_ext 198.51.100.2 ext --a which.test=203.0.113.2 || fail "the stub on the external client listens"
agent_start --resolv-conf "$STATE/resolv.conf" || { fail "agent starts"; return; }

# dig_in CONTAINER ARGS...: dig in the container, at what its resolv.conf names; one try of 6 s
# (longer than the forwarder's own timeout).
dig_in() { bp exec "$1" dig +tries=1 +time=6 "${@:2}"; }
# answers CONTAINER ARGS...: the answers' data (+short), sorted, on one line.
answers() { dig_in "$1" +short "${@:2}" | sort | paste -sd' ' -; }
# outcome CONTAINER ARGS...: "RCODE COUNT": the response code and how many answers came
# (nothing when no response did).
outcome() { dig_in "$@" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p; s/.*ANSWER: \([0-9]*\),.*/\1/p' | paste -sd' ' -; }
# asked STUB PATTERN: the stub got a query matching PATTERN ("NAME TYPE udp|tcp", grep -E).
asked() { grep -qE -- "$1" "$STATE/$2.queries"; }
# conf CONTAINER FILE: the lines of the container's FILE, for check_output.
conf() { bp exec "$1" cat "$2"; }
# nameservers CONTAINER: its resolv.conf's nameserver lines, on one line.
nameservers() { bp exec "$1" cat /etc/resolv.conf | grep '^nameserver' | paste -sd' ' -; }
counter() { local n; n=$(metric "$@"); echo "${n:-0}"; }  # counter FAMILY LABEL=VALUE...: 0 when absent

check "networks" bash -c "'$BIN' network create --subnet 10.53.0.0/24 frontnet >/dev/null &&
    '$BIN' network create --subnet 10.54.0.0/24 backnet >/dev/null && '$BIN' network create --internal --subnet 10.55.0.0/24 isonet >/dev/null"
check "containers" bash -c "'$BIN' run -d --name web --net frontnet -h webhost --network-alias www --network-alias site >/dev/null &&
    '$BIN' run -d --name client --net frontnet >/dev/null && '$BIN' run -d --name secret --net backnet >/dev/null &&
    '$BIN' run -d --name pool1 --net frontnet --network-alias pool >/dev/null && '$BIN' run -d --name pool2 --net frontnet --network-alias pool >/dev/null"
web=$(ip_of web); client=$(ip_of client); secret=$(ip_of secret)
webid=$(bp inspect -f '{{.Id}}' web)

# ---- names
check_output "a container by name, TTL 600" "^web\.\s+600\s+IN\s+A\s+$web$" dig_in client +noall +answer web
check_output "by hostname" "^$web$" answers client webhost
check_output "by --network-alias" "^$web$" answers client www
check_output "... each of them" "^$web$" answers client site
check_output "by NAME.NETWORK" "^$web$" answers client web.frontnet
check_output "by short ID" "^$web$" answers client "${webid:0:12}"
for name in WEB Www Web.FrontNet; do check_output "whatever the case: $name" "^$web$" answers client $name; done
check_output "PTR: NAME.NETWORK., as Docker answers" '^web\.frontnet\.$' answers client -x "$web"
check_output "a local name asked for AAAA: NOERROR, no answer" '^NOERROR 0$' outcome client web AAAA
check_output "... and MX" '^NOERROR 0$' outcome client www MX
check "... not forwarded" bash -c "! grep -qE '^(web|www)\. ' '$STATE/lo.queries'"
pools=$(printf '%s\n' "$(ip_of pool1)" "$(ip_of pool2)" | sort | paste -sd' ' -)
check_output "one alias, two containers: both addresses" "^$pools$" answers client pool
firsts=$(for _ in $(seq 1 10); do dig_in client +short pool | head -1; done | sort -u | wc -l)
[ "$firsts" = 2 ] && pass "... each first in turn (over 10 queries)" || fail "the same address came first in 10 queries"
check_output "over TCP" "^$web$" answers client +tcp web
check_output "getent hosts (glibc, through resolv.conf)" "^$web +www$" bp exec client getent hosts www
check_output "Python's socket.gethostbyname" "^$web$" bp exec client python3 -c 'import socket; print(socket.gethostbyname("web.frontnet"))'

# Names change with the containers, at once: no file to rewrite, no delay.
check_output "a newcomer resolves as soon as run -d returns" '^10\.53\.0\.[0-9]+$' \
    bash -c "'$BIN' run -d --name newbie --net frontnet >/dev/null && '$BIN' exec client dig +short +tries=1 +time=6 newbie"
bp rm -f newbie >/dev/null
check_output "a removed container: NXDOMAIN at once" '^NXDOMAIN 0$' outcome client newbie
check_output "another network's container is invisible" '^NXDOMAIN 0$' outcome client secret
check_output "... by NAME.NETWORK too" '^NXDOMAIN 0$' outcome client secret.backnet
check_output "... and by address (PTR)" '^NXDOMAIN 0$' outcome client -x "$secret"
check "connect it with --alias (twice)" bp network connect --alias vault --alias safe frontnet secret
secret_front=$(bp inspect -f '{{.NetworkSettings.Networks.frontnet.IPAddress}}' secret)
check_output "now visible, by its address on the shared network only" "^$secret_front$" answers client secret
for alias in vault safe; do check_output "... and by alias $alias" "^$secret_front$" answers client $alias; done
check_output "it sees the peers of its new network" "^$web$" answers secret web
back=$(counter bridgeport_dns_queries_total network=backnet)
dig_in secret +short web >/dev/null
[ $(($(counter bridgeport_dns_queries_total network=backnet) - back)) = 1 ] &&
    pass "its queries are counted under its first network (backnet)" || fail "secret's query on backnet's counter: +$(($(counter bridgeport_dns_queries_total network=backnet) - back))"
check_output "inspect: the aliases given on connect" '^\["vault","safe"\]$' bp inspect -f '{{json .NetworkSettings.Networks.frontnet.Aliases}}' secret
check "disconnect it" bp network disconnect frontnet secret
check_output "a disconnected container: NXDOMAIN at once" '^NXDOMAIN 0$' outcome client secret
check_output "... its aliases too" '^NXDOMAIN 0$' outcome client vault

# ---- forwarding: to the loopback resolver of the agent's resolv.conf, from the agent's namespace
check_output "an external name, from the host's loopback resolver" '^203\.0\.113\.53$' answers client which.test
check "... which got the query" asked '^which\.test\. A ' lo
check_output "AAAA of an external name" '^2001:db8::7$' answers client AAAA upstream.test
check_output "MX of an external name: the upstream's NOERROR, no answer" '^NOERROR 0$' outcome client MX upstream.test
check "... forwarded" asked '^upstream\.test\. MX ' lo
check_output "PTR of an address that is no container's: forwarded" '^NXDOMAIN 0$' outcome client -x 203.0.113.7
check "... to the upstream" asked '^7\.113\.0\.203\.in-addr\.arpa\. PTR ' lo
check_output "the upstream's NXDOMAIN passes through" '^NXDOMAIN 0$' outcome client missing.test
check_output "... and its REFUSED" '^REFUSED 0$' outcome client refused.test
check_output "a forwarded query over TCP" '^203\.0\.113\.7$' answers client +tcp upstream.test
check_output "getent of an external name" '^203\.0\.113\.7 +STREAM upstream\.test$' bp exec client getent ahostsv4 upstream.test
out=$(dig_in client slow.test)
ms=$(sed -n 's/^;; Query time: \([0-9]*\) msec$/\1/p' <<<"$out")
grep -q 'status: SERVFAIL' <<<"$out" && [ "${ms:-0}" -ge 3000 ] && [ "$ms" -le 5900 ] &&
    pass "an upstream that never answers: SERVFAIL after about 4 s ($ms ms)" || fail "slow upstream: $(grep -E 'status|Query time|timed out' <<<"$out")"
check "nothing went to the external resolver, which the agent's resolv.conf does not name" test ! -s "$STATE/ext.queries"

# --dns: that server instead, kept by the agent (resolv.conf still names 127.0.0.11).
check "run --dns --dns-search --dns-option" bp run -d --name dnsc --net frontnet --dns 198.51.100.2 \
    --dns-search a.test --dns-search b.test --dns-option timeout:3 --dns-option attempts:2
check_output "--dns: external names from that server" '^203\.0\.113\.2$' answers dnsc which.test
check "... which got the query" asked '^which\.test\. A ' ext
check_output "... local names still from the agent" "^$web$" answers dnsc web
check_output "... its resolv.conf names 127.0.0.11 alone" '^nameserver 127\.0\.0\.11$' nameservers dnsc
check_output "... search from --dns-search" '^search a\.test b\.test$' conf dnsc /etc/resolv.conf
check_output "... options from --dns-option, and ndots:0" '^options( [^ ]+)* (timeout:3 attempts:2|attempts:2 timeout:3)( [^ ]+)*$' conf dnsc /etc/resolv.conf
check_output "... ndots:0 on that line" '^options.* ndots:0( |$)' conf dnsc /etc/resolv.conf
check_output "... nothing of the host's search list" '^$' bash -c "'$BIN' exec dnsc grep corp.test /etc/resolv.conf"
# A server with nothing on port 53 refuses at once (port unreachable): the next is asked
# without waiting out the 4 s timeout. 198.51.100.1 is the host's own uplink address.
check "run with a dead --dns first" bp run -d --name dnsdead --net frontnet --dns 198.51.100.1 --dns 198.51.100.2
out=$(dig_in dnsdead which.test)
ms=$(sed -n 's/^;; Query time: \([0-9]*\) msec$/\1/p' <<<"$out")
grep -q '^which\.test\..*203\.0\.113\.2$' <<<"$out" && [ "${ms:-9999}" -lt 1000 ] &&
    pass "a refusing server is passed over at once ($ms ms)" || fail "dead first --dns: $(grep -E 'status|Query time|timed out' <<<"$out")"

# ---- the files
check_output "resolv.conf: nameserver 127.0.0.11 alone" '^nameserver 127\.0\.0\.11$' nameservers client
check_output "... the host's search list" '^search corp\.test$' conf client /etc/resolv.conf
check_output "... the host's options, and ndots:0" '^options .*edns0.* ndots:0|^options .*ndots:0.*edns0' conf client /etc/resolv.conf
check_output "/etc/hosts: its own address, hostname (the short ID) and name" "^$client\s+[0-9a-f]{12} client$" conf client /etc/hosts
check_output "... localhost" '^127\.0\.0\.1\s+localhost' conf client /etc/hosts
check_output "... no peer" '^$' bash -c "'$BIN' exec client grep -wE 'web|www|pool1|pool' /etc/hosts"
check "run --add-host (an address, host-gateway)" bp run -d --name hosty --net frontnet --add-host db.test:203.0.113.50 --add-host gw:host-gateway
gateway=$(bp inspect -f '{{.NetworkSettings.Networks.frontnet.Gateway}}' hosty)
check_output "/etc/hosts: the --add-host line" '^203\.0\.113\.50\s+db\.test$' conf hosty /etc/hosts
check_output "... host-gateway is the network's gateway" "^$gateway\s+gw$" conf hosty /etc/hosts
check_output "... which getent finds" "^$gateway +gw$" bp exec hosty getent hosts gw
check "run --domainname" bp run -d --name dom --net frontnet --domainname example.test
check_output "--domainname: the container's domain name" '^example\.test$' bp exec dom cat /proc/sys/kernel/domainname
check_output "... its full name from /etc/hosts" "^$(bp inspect -f '{{.Id}}' dom | cut -c1-12)\.example\.test$" bp exec dom hostname -f

# ---- bad input: exit 125, one line, nothing made
check_fails "--add-host without an address" 125 'bad format for add-host: "foo"' bp run -d --name bad --net frontnet --add-host foo
check_fails "--add-host with no IP" 125 'invalid IP address in add-host: "bar"' bp run -d --name bad --net frontnet --add-host foo:bar
check_fails "an alias that is no DNS name" 125 'invalid network alias' bp run -d --name bad --net frontnet --network-alias 'bad name'
check_fails "an alias starting with a dash" 125 'invalid network alias' bp run -d --name bad --net frontnet --network-alias=-x
check_fails "--network-alias on the default bridge" 125 'network-scoped alias is supported only for containers in user defined networks' \
    bp run -d --name bad --network-alias x
check_fails "connect --alias that is no DNS name" 1 'invalid network alias' bp network connect --alias 'bad name' backnet client
check_output "nothing half-made: no container bad" '^$' bash -c "'$BIN' ps -a | grep -w bad"
networks_of() { bp inspect "$1" | python3 -c 'import json, sys; print(" ".join(sorted(json.load(sys.stdin)[0]["NetworkSettings"]["Networks"])))'; }
check_output "... client still on frontnet alone" '^frontnet$' networks_of client

# ---- inspect: Aliases as given, DNSNames as Docker 25+ (name, aliases, short ID, hostname; once each)
# dns_names CONTAINER NETWORK: the DNSNames, sorted, on one line ("duplicate" when one repeats).
dns_names() {
    bp inspect -f "{{json .NetworkSettings.Networks.$2.DNSNames}}" "$1" |
        python3 -c 'import json, sys; n = json.load(sys.stdin); print(" ".join(sorted(n)) + (" duplicate" if len(set(n)) != len(n) else ""))'
}
check_output "inspect: Aliases" '^\["www","site"\]$' bp inspect -f '{{json .NetworkSettings.Networks.frontnet.Aliases}}' web
check_output "inspect: DNSNames" "^$(printf '%s\n' web www site "${webid:0:12}" webhost | LC_ALL=C sort | paste -sd' ' -)$" dns_names web frontnet
check_output "... the hostname (the short ID), once" "^$(printf '%s\n' client "$(bp inspect -f '{{.Id}}' client | cut -c1-12)" | LC_ALL=C sort | paste -sd' ' -)$" dns_names client frontnet

# ---- a stopped container has no name, as in Docker, until it starts again
check "a container that will stop" bp run -d --name napper --net frontnet
napper=$(ip_of napper)
check_output "it resolves while it runs" "^$napper$" answers client napper
check "stop it" bp stop -t 0 napper
check_output "stopped: its name is not known (forwarded, NXDOMAIN)" '^NXDOMAIN 0$' outcome client napper
check "start it" bp start napper
check_output "started: it resolves again" "^$napper$" answers client napper

# ---- a container that serves DNS itself: port 53 is its own (the embedded server listens
# at a port of its own, where the socket hooks send 127.0.0.11:53, as Docker's DNAT does).
check "a container binding UDP and TCP port 53 on all its addresses" bp run -d --name ownsdns --net frontnet \
    -- python3 "$TOOLS/echo.py" --tcp 53 --udp 53
check "... runs" eventually 5 bash -c "'$BIN' logs ownsdns | grep -q ready"
check_output "... and still resolves names at 127.0.0.11:53" "^$web$" answers ownsdns web
check_output "... over TCP too" "^$web$" answers ownsdns +tcp web
check_output "dig shows the answer from 127.0.0.11#53" 'SERVER: 127\.0\.0\.11#53' dig_in ownsdns web

# ---- the default bridge (no names; the host's resolvers but loopback ones, else Google's), --network host
check "run on the default bridge" bp run -d --name plain
check_output "default bridge: the loopback resolver dropped, 8.8.8.8 and 8.8.4.4 instead" '^nameserver 8\.8\.8\.8 nameserver 8\.8\.4\.4$' nameservers plain
check_output "... the host's search list" '^search corp\.test$' conf plain /etc/resolv.conf
check_output "... no ndots:0 (there is no server of ours)" '^$' bash -c "'$BIN' exec plain grep ndots /etc/resolv.conf"
check_output "inspect: no DNSNames on the default bridge" '^null$' bp inspect -f '{{json .NetworkSettings.Networks.bridge.DNSNames}}' plain
check "run --network host" bp run -d --name hostnet --net host
check "--network host: the host's resolv.conf as it is, byte for byte" \
    bash -c "cmp '$STATE/resolv.conf' <('$BIN' exec hostnet cat /etc/resolv.conf)"

# ---- internal networks: names, but nothing forwarded out
check "two containers on the internal network" bash -c "'$BIN' run -d --name iso1 --net isonet >/dev/null && '$BIN' run -d --name iso2 --net isonet >/dev/null"
check_output "internal: peers resolve" "^$(ip_of iso2)$" answers iso1 iso2
lo_before=$(wc -l <"$STATE/lo.queries"); ext_before=$(wc -l <"$STATE/ext.queries")
result=$(outcome iso1 upstream.test)
[[ ! $result =~ ^NOERROR\ [1-9] ]] && pass "internal: an external name gets no answer ($result)" || fail "internal: upstream.test answered: $result"
[ "$(wc -l <"$STATE/lo.queries")" = "$lo_before" ] && [ "$(wc -l <"$STATE/ext.queries")" = "$ext_before" ] &&
    pass "... and no upstream got the query" || fail "an internal network's query was forwarded: $(tail -2 "$STATE/lo.queries")"

# ---- metrics: exact counts of the client's queries (nothing else asks meanwhile)
front=network=frontnet
queries=$(counter bridgeport_dns_queries_total $front)
noerror=$(counter bridgeport_dns_responses_total $front rcode=NOERROR)
nxdomain=$(counter bridgeport_dns_responses_total $front rcode=NXDOMAIN)
forwarded=$(counter bridgeport_dns_forwarded_total $front)
timed=$(counter bridgeport_dns_forward_duration_seconds_count $front)
for _ in 1 2 3 4 5; do dig_in client +short web >/dev/null; done
for _ in 1 2; do dig_in client +short missing.test >/dev/null; done
dig_in client +short upstream.test >/dev/null
[ $(($(counter bridgeport_dns_queries_total $front) - queries)) = 8 ] && pass "8 queries counted" ||
    fail "queries counted: $(($(counter bridgeport_dns_queries_total $front) - queries)) of 8"
[ $(($(counter bridgeport_dns_responses_total $front rcode=NOERROR) - noerror)) = 6 ] && pass "6 NOERROR responses counted" ||
    fail "NOERROR responses: $(($(counter bridgeport_dns_responses_total $front rcode=NOERROR) - noerror)) of 6"
[ $(($(counter bridgeport_dns_responses_total $front rcode=NXDOMAIN) - nxdomain)) = 2 ] && pass "2 NXDOMAIN responses counted" ||
    fail "NXDOMAIN responses: $(($(counter bridgeport_dns_responses_total $front rcode=NXDOMAIN) - nxdomain)) of 2"
[ $(($(counter bridgeport_dns_forwarded_total $front) - forwarded)) = 3 ] && pass "3 forwarded" ||
    fail "forwarded: $(($(counter bridgeport_dns_forwarded_total $front) - forwarded)) of 3"
[ $(($(counter bridgeport_dns_forward_duration_seconds_count $front) - timed)) = 3 ] && pass "3 forwards timed (histogram count)" ||
    fail "forward duration count: $(($(counter bridgeport_dns_forward_duration_seconds_count $front) - timed)) of 3"
check_output "the histogram's buckets, up to +Inf" 'le="\+Inf"' samples bridgeport_dns_forward_duration_seconds_bucket $front

# ---- hostile queries from the client to its server: after each, a query is answered within
# 2 s and the API works; what is no query is dropped and counted as malformed.
HOSTILE=$(cat <<'PY'
import os, random, socket, struct, sys, time
server = ("127.0.0.11", 53)
RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED"]
def query(name, flags=0x0100, ident=0x4242):
    return struct.pack("!HHHHHH", ident, flags, 1, 0, 0, 0) + b"".join(
        bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0\0\1\0\1"
mode = sys.argv[1]
if mode == "stall":  # N TCP connections that announce 64 bytes, send 3 and stall for 3 s
    conns = [socket.create_connection(server, timeout=2) for _ in range(int(sys.argv[2]))]
    for c in conns:
        try:
            c.sendall(b"\0\x40\x42\x42\x01")
        except OSError:  # one the server turned away
            pass
    print("ready", flush=True)
    time.sleep(3)
    sys.exit()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if mode == "flood":  # 2 s of queries as fast as they go, a local name and one that is never answered in turn
    s.setblocking(False)
    queries, sent, replies = [query("web"), query("slow.test")], 0, 0
    end = time.monotonic() + 2
    while time.monotonic() < end:
        try:
            s.sendto(struct.pack("!H", sent & 0xFFFF) + queries[sent % 2][2:], server)
            sent += 1
            while True:
                s.recv(4096)
                replies += 1
        except BlockingIOError:
            pass
    print(sent, "sent,", replies, "answered")
    sys.exit()
packets = {
    "garbage": [os.urandom(random.randrange(0, 12)) for _ in range(50)] + [os.urandom(random.randrange(12, 600)) for _ in range(50)],
    "truncated": [query("web")[:15]],  # cut inside the name
    "response": [query("web", flags=0x8180)],  # QR set: answering it would let two servers loop
}[mode]
for packet in packets:
    s.sendto(packet, server)
s.settimeout(1)
seen = []
try:
    while True:
        reply = s.recv(4096)
        seen.append(RCODES[reply[3] & 0xF] if len(reply) >= 12 and reply[3] & 0xF < 6 else "other")
except socket.timeout:
    pass
print(" ".join(seen) or "none")
PY
)
hostile() { bp exec "$1" python3 -c "$HOSTILE" "${@:2}"; }  # hostile CONTAINER MODE [N]
still_serving() {  # still_serving AFTER: the client's server answers within 2 s; the API works
    check_output "after $1, a query is answered at once" "^$web$" bp exec client dig +short +tries=1 +time=2 web
    check "after $1, bp ps works" bp ps
}
malformed() { counter bridgeport_dns_dropped_total $front reason=malformed; }

before=$(malformed)
check_output "garbage datagrams: at most FORMERR or NOTIMP back" '^((FORMERR|NOTIMP) ?)*$|^none$' hostile client garbage
still_serving "garbage"
[ $(($(malformed) - before)) -ge 50 ] && pass "... the 50 shorter than a header counted as malformed ($(($(malformed) - before)) in all)" ||
    fail "malformed after 100 garbage datagrams: $(($(malformed) - before))"
before=$(malformed); formerr=$(counter bridgeport_dns_responses_total $front rcode=FORMERR)
check_output "a truncated query: nothing or FORMERR back" '^(none|FORMERR)$' hostile client truncated
still_serving "a truncated query"
[ $(($(malformed) - before + $(counter bridgeport_dns_responses_total $front rcode=FORMERR) - formerr)) = 1 ] &&
    pass "... counted once, as malformed or FORMERR" || fail "truncated query: malformed +$(($(malformed) - before)), FORMERR +$(($(counter bridgeport_dns_responses_total $front rcode=FORMERR) - formerr))"
before=$(malformed)
check_output "a response (QR set) sent as a query: nothing back" '^none$' hostile client response
still_serving "a response"
[ $(($(malformed) - before)) = 1 ] && pass "... counted as malformed" || fail "QR set: malformed +$(($(malformed) - before))"

# The server takes a bounded number of TCP connections from one container at a time (32):
# client stalls 10, hosty more than the bound; neither starves anyone else.
hostile client stall 10 >"$STATE/stall.out" 2>&1 &
stall=$!
hostile hosty stall 50 >"$STATE/stall-many.out" 2>&1 &
stall_many=$!
wait_ready "$STATE/stall.out" "$STATE/stall-many.out" || fail "stalled TCP connections: $(cat "$STATE"/stall*.out)"
check_output "while 10 of its TCP connections stall mid-query, another one is answered" "^$web$" bp exec client dig +short +tcp +tries=1 +time=2 web
check_output "while another container stalls 50, a TCP query is answered" "^$client$" bp exec web dig +short +tcp +tries=1 +time=2 client
check_output "... and that container's UDP queries" "^$web$" bp exec hosty dig +short +tries=1 +time=2 web
still_serving "stalled TCP connections"
wait $stall $stall_many

overload=$(counter bridgeport_dns_dropped_total $front reason=overload)
hostile client flood >"$STATE/flood.out" 2>&1 &
flood=$!
sleep 0.5
check_output "during a flood from client, another container is answered" "^$client$" bp exec web dig +short +tries=1 +time=2 client
wait $flood
echo "        flood: $(cat "$STATE/flood.out")"
still_serving "a 2 s flood"
[ "$(counter bridgeport_dns_dropped_total $front reason=overload)" -gt "$overload" ] &&
    pass "forwards beyond the limit in flight were dropped as overload" || fail "no overload drop after the flood ($(cat "$STATE/flood.out"))"
check_output "forwarding works again once the flood's forwards time out" '^203\.0\.113\.7$' \
    eventually 10 bash -c "'$BIN' exec client dig +short +tries=1 +time=2 upstream.test | grep ."
check "the agent is still running" kill -0 "$AGENT_PID"

# ---- an agent restart with another resolv.conf: a non-loopback resolver, asked as it is
cat >"$STATE/resolv-ext.conf" <<'CONF'
nameserver 198.51.100.2
search corp.test
CONF
agent_stop
agent_start --resolv-conf "$STATE/resolv-ext.conf" || { fail "agent restarts"; return; }
check_output "after the restart, running containers' names still resolve" "^$web$" answers client web
check "a new container" bp run -d --name late --net frontnet
check_output "external names from the non-loopback resolver of the new resolv.conf" '^203\.0\.113\.2$' answers late which.test
check_output "... local names from the agent" "^$web$" answers late web
check "on the default bridge too" bp run -d --name plain2
check_output "default bridge: the host's resolver as is" '^nameserver 198\.51\.100\.2$' nameservers plain2
: >"$STATE/ext.queries"
check_fails "... which has no container names" 2 '' bp exec plain2 getent hosts web
check "... the container asked it directly" asked '^web\. A ' ext

# ---- names across hosts: two more hosts (as in overlay.sh) and an overlay network
cluster_up 2 || { fail "cluster"; return; }
for n in 1 2; do
    dns_stub "in_h $n" 127.0.0.53 h$n || fail "the stub on host $n's lo listens"
    check "agent of host $n" start_host $n --resolv-conf "$STATE/resolv.conf"
done
check "an overlay network" on 1 network create -d overlay --attachable ovdns
check "host 2 sees it" eventually 5 sh -c "BRIDGEPORT_SOCKET=$STATE/h2/agent.sock '$BIN' network ls | grep -q ' ovdns '"
check "far1 on host 1, far2 (alias farther) on host 2" bash -c "BRIDGEPORT_SOCKET=$STATE/h1/agent.sock '$BIN' run -d --name far1 --net ovdns >/dev/null &&
    BRIDGEPORT_SOCKET=$STATE/h2/agent.sock '$BIN' run -d --name far2 --net ovdns --network-alias farther >/dev/null"
far1=$(on 1 inspect -f '{{.NetworkSettings.Networks.ovdns.IPAddress}}' far1)
far2=$(on 2 inspect -f '{{.NetworkSettings.Networks.ovdns.IPAddress}}' far2)
far() { on "$1" exec "$2" dig +tries=1 +time=2 "${@:3}"; }  # far N CONTAINER ARGS...: dig in host N's container
resolves() { far "$@" +short | grep -v '^;' | grep .; }  # resolves N CONTAINER ARGS...: the answers; fails without
check_output "host 2's container resolves host 1's by name" "^$far1$" eventually 5 resolves 2 far2 far1
check_output "... and by NAME.NETWORK" "^$far1$" resolves 2 far2 far1.ovdns
check_output "host 1's container resolves host 2's alias" "^$far2$" eventually 5 resolves 1 far1 farther
check_output "PTR across hosts" '^far1\.ovdns\.$' resolves 2 far2 -x "$far1"
on 1 rm -f far1 >/dev/null
check_output "a container removed on host 1: NXDOMAIN on host 2" 'status: NXDOMAIN' eventually 5 bash -c \
    "BRIDGEPORT_SOCKET=$STATE/h2/agent.sock '$BIN' exec far2 dig +tries=1 +time=2 far1 | grep 'status: NXDOMAIN'"
