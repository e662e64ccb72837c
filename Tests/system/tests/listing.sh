# Listing commands as Docker's: --format (table, table TEMPLATE, json, TEMPLATE) of
# `network ls` and `ps`, `ps --filter`, and `network prune` (its question, its filters, what
# it keeps: the predefined networks, those with containers, running or stopped, and an
# overlay network on the hosts that did not create it).
agent_start || { fail "agent starts"; return; }

# aligned TITLE command...: whether, in the table the command prints, each row's second
# cell starts where the header's TITLE does.
aligned() {
    local title=$1; shift
    "$@" | awk -v title="$title" 'NR == 1 { at = index($0, title); next }
        { rest = substr($0, length($1) + 1); p = length($1) + index(rest, $2); if (p != at) bad = 1 }
        END { print (at > 0 && NR > 1 && !bad) ? "aligned" : "misaligned" }'
}

# ---- network ls --format
check "a labelled network" bp network create --label tier=web --subnet 198.18.10.0/24 front
check "another" bp network create --subnet 198.18.11.0/24 back
check_output "table: Docker's columns" '^NETWORK ID +NAME +DRIVER +SCOPE$' bp network ls --format table
check_output "table TEMPLATE: the fields' titles as header" '^NAME +DRIVER +IPV6 +INTERNAL +LABELS$' \
    bp network ls --format 'table {{.Name}}\t{{.Driver}}\t{{.IPv6}}\t{{.Internal}}\t{{.Labels}}'
check_output "... and the rows" '^front +bridge +false +false +tier=web$' \
    bp network ls --format 'table {{.Name}}\t{{.Driver}}\t{{.IPv6}}\t{{.Internal}}\t{{.Labels}}'
check_output "... aligned as Docker's tabwriter aligns them" '^aligned$' \
    aligned DRIVER bp network ls --format 'table {{.Name}}\t{{.Driver}}'
check_output "TEMPLATE: a line per network, no header" '^back bridge front host none$' \
    bash -c "'$BIN' network ls --format '{{.Name}}' | paste -sd' '"
check_output '{{.Label "tier"}}' '^front=web$' bp network ls --filter name=front --format '{{.Name}}={{.Label "tier"}}'
check_output "json: Docker's fields, one object per line" '^CreatedAt Driver ID IPv4 IPv6 Internal Labels Name Scope front$' \
    bash -c "'$BIN' network ls --filter name=front --format json | python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); print(*sorted(d), d[\"Name\"])'"
check_output "CreatedAt as Go prints a time" '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9.]+ [+-][0-9]{4} [A-Z]+$' \
    bp network ls --filter name=front --format '{{.CreatedAt}}'
# Go names a zone as tzdata does; ICU's English names would be "GMT+1", "GMT+9", "GMT-3".
for zone in 'Europe/Berlin:\+0[12]00 CES?T' 'Asia/Tokyo:\+0900 JST' 'America/Sao_Paulo:-0300 -03'; do
    check_output "... with tzdata's abbreviation in ${zone%%:*}" "^[0-9-]{10} [0-9:.]+ ${zone#*:}\$" \
        env TZ="${zone%%:*}" "$BIN" network ls --filter name=front --format '{{.CreatedAt}}'
done
check_output "-q with a format: the format (as Docker's network ls)" '^front$' bp network ls -q --filter name=front --format '{{.Name}}'
check_output "--no-trunc: the whole ID" '^[0-9a-f]{64}$' bp network ls --no-trunc --filter name=front --format '{{.ID}}'
check_fails "an unknown field: Go's error, exit 1" 1 'template parsing error: template: :1:2: executing "" at <\.Foo>: can.t evaluate field Foo' \
    bp network ls --format '{{.Foo}}'
check_output "... and nothing on stdout" '^$' bash -c "'$BIN' network ls --format 'table {{.Foo}}' 2>/dev/null"
check_fails "an unknown function" 1 'function "upper" not defined' bp network ls --format '{{upper .Name}}'
check_fails "an unclosed range" 1 'template: :1: unexpected EOF' bp network ls --format '{{range .Labels}}'

# ---- ps --format
check "web: running on front, 80 published" bp run -d --name web --net front -p 18081:80
check "db: on back, 5432 published, stopped" bp run -d --name db --net back -p 15432:5432
check "stop db" bp stop -t 1 db
check "job: on back, exits 3" bp run -d --name job --net back -- sh -c 'exit 3'
check "job exited" eventually 5 bash -c "'$BIN' ps -a --filter name=job --format '{{.State}}' | grep -qx exited"
check_output "table: Docker's columns" '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$' bp ps --format table
check_output "table TEMPLATE" '^NAMES +PORTS +NETWORKS$' bp ps --format 'table {{.Names}}\t{{.Ports}}\t{{.Networks}}'
check_output "... the row" '^web +0\.0\.0\.0:18081->80/tcp +front$' bp ps --format 'table {{.Names}}\t{{.Ports}}\t{{.Networks}}'
check_output "... aligned" '^aligned$' aligned STATE bp ps -a --format 'table {{.Names}}\t{{.State}}'
check_output "{{.Command}} is quoted, as Docker's" '^"sh -c '"'"'exit 3'"'"'"$' bp ps -a --filter name=job --format '{{.Command}}'
check_output "{{.State}} {{.Status}}" '^exited Exited \(3\) ' bp ps -a --filter name=job --format '{{.State}} {{.Status}}'
check_output "json: Docker's fields" '^Command CreatedAt ID Image Labels LocalVolumes Mounts Names Networks Ports RunningFor Size State Status web$' \
    bash -c "'$BIN' ps --format json | python3 -c 'import json, sys; d = json.loads(sys.stdin.read()); print(*sorted(d), d[\"Names\"])'"
check_output "-q with a format: the IDs (as Docker's ps)" '^[0-9a-f]{12}$' bash -c "'$BIN' ps -q --format '{{.Names}}' 2>/dev/null"
check_output "... and Docker's warning" '^WARNING: Ignoring custom format, because both --format and --quiet are set\.$' \
    bash -c "'$BIN' ps -q --format '{{.Names}}' 2>&1 >/dev/null"
check_output "--no-trunc" '^[0-9a-f]{64} "sh -c '"'"'exit 3'"'"'"$' bp ps -a --no-trunc --filter name=job --format '{{.ID}} {{.Command}}'
check_fails "an unknown field" 1 'failed to execute template: template: :1:10: executing "" at <\.Bar>: can.t evaluate field Bar' \
    bp ps --format '{{.ID}} {{.Bar}}'

# ---- ps --filter
names() { bp ps "$@" --format '{{.Names}}' | paste -sd' ' -; }
web_id=$(bp inspect -f '{{.Id}}' web)
back_id=$(bp network inspect -f '{{.Id}}' back)
check_output "name: a substring" '^web$' names --filter name=we
check_output "name: a pattern (Docker's ^/NAME\$)" '^web$' names -a --filter 'name=^/web$'
check_output "id: a prefix" '^web$' names -a --filter id="${web_id:0:6}"
check_output "network: by name" '^job db$' names -a --filter network=back
check_output "network: by ID prefix" '^job db$' names -a -f network="${back_id:0:8}"
check_output "publish: a container port" '^web$' names -f publish=80
check_output "publish: another protocol" '^$' names -f publish=80/udp
check_output "publish: a range, of a stopped container too" '^db$' names -a -f publish=5000-6000/tcp
check_output "status lists stopped containers without -a" '^job db$' names --filter status=exited
check_output "status=running" '^web$' names --filter status=running
check_output "exited=3" '^job$' names -a --filter exited=3
check_output "one key twice: either" '^db web$' names -a -f name=web -f name=db
check_output "two keys: both" '^$' names -a -f network=back -f status=running
check_output "-q keeps working" '^[0-9a-f]{12}$' bp ps -q -f name=web
check_fails "status=foo: Docker's message" 1 "^Error response from daemon: Invalid filter 'status=foo'$" bp ps -f status=foo
check_fails "an unknown key" 1 "^Error response from daemon: invalid filter 'foo'$" bp ps -f foo=bar
check_fails "publish with a host part" 1 "filter for 'publish' should not contain ':': 8080:80" bp ps -f publish=8080:80
check_fails "a filter without '='" 125 'bad format of filter \(expected name=value\)' bp ps -f name

# ---- network prune
check "an unused network, kept by label" bp network create --label keep --subnet 198.18.12.0/24 unused1
check "another unused one" bp network create --subnet 198.18.13.0/24 unused2
unused2_bridge=br-$(bp network inspect -f '{{.Id}}' unused2 | cut -c1-12)
check "its bridge exists" in_host ip link show "$unused2_bridge"
check_output "without -f it asks Docker's question" 'Are you sure you want to continue\? \[y/N\] $' bash -c "echo n | '$BIN' network prune"
check_output "... 'n': nothing removed" '^back bridge front host none unused1 unused2$' bash -c "'$BIN' network ls --format '{{.Name}}' | paste -sd' '"
check "... no answer: exit 0" bash -c "'$BIN' network prune </dev/null"
check_output "... nothing removed" '^back bridge front host none unused1 unused2$' bash -c "'$BIN' network ls --format '{{.Name}}' | paste -sd' '"
check_output "until=1h: all are newer, none removed" '^$' bp network prune -f --filter until=1h
check_output "label!=keep, until a minute ahead: unused2 alone" '^Deleted Networks:,unused2,$' \
    bash -c "'$BIN' network prune -f --filter label!=keep --filter until=$(($(date +%s) + 60)) | paste -sd, -"
check_fails "... its bridge is gone" 1 'does not exist' ip -n "$HOST_NS" link show "$unused2_bridge"
check_output "'y': the rest of the unused ones" '^Deleted Networks:$' bash -c "echo y | '$BIN' network prune | sed 's/.*\[y\/N\] //'"
check_output "... kept: the predefined ones and those with containers, running or stopped" '^back bridge front host none$' \
    bash -c "'$BIN' network ls --format '{{.Name}}' | paste -sd' '"
check_fails "an unknown filter" 1 "^Error response from daemon: invalid filter 'foo'$" bp network prune -f --filter foo=bar
check_fails "a bad until" 1 'failed to parse value as time or duration: "soon"' bp network prune -f --filter until=soon
check_fails "a filter without '='" 125 'bad format of filter' bp network prune -f --filter until
agent_stop
check_agent_starts "the agent restarts"
check_output "... and the pruned networks stay gone" '^back bridge front host none$' bash -c "'$BIN' network ls --format '{{.Name}}' | paste -sd' '"
check "rm the containers" bp rm -f web db job
check_output "now front and back go too" '^Deleted Networks:,(back,front|front,back),$' bash -c "'$BIN' network prune -f | paste -sd, -"

# ---- overlay: each host prunes only the overlay networks it created
cluster_up 2
for n in 1 2; do check "agent of host $n joins the cluster" start_host $n; done
check "host 1 creates ovp" on 1 network create -d overlay ovp
check "host 1 creates ovq" on 1 network create -d overlay ovq
check "host 2 sees both" eventually 5 bash -c "BRIDGEPORT_SOCKET=$STATE/h2/agent.sock '$BIN' network ls --format '{{.Name}}' | grep -c '^ov[pq]$' | grep -qx 2"
check "a container on ovq on host 2" on 2 run -d --name q2 --net ovq
check_output "host 2 prunes neither (not its own)" '^$' on 2 network prune -f
check_output "host 1 prunes ovp, not ovq (in use on host 2)" '^Deleted Networks:,ovp,$' bash -c "BRIDGEPORT_SOCKET=$STATE/h1/agent.sock '$BIN' network prune -f | paste -sd, -"
check "host 2 sees ovp go" eventually 5 bash -c "! BRIDGEPORT_SOCKET=$STATE/h2/agent.sock '$BIN' network ls --format '{{.Name}}' | grep -qx ovp"
check_output "ovq stays on host 1" '^ovq$' on 1 network ls --filter name=ovq --format '{{.Name}}'
