# Isolation holds at every moment while the agent restarts and networks come and go: the
# number a network has in the maps is its own, kept across restarts, so a restart never
# shows a container as a member of another network, not even for a moment.
agent_start || { fail "agent starts"; return; }

# A gap in the numbering (x goes), then c takes the number x had.
check "networks a, x, b; x removed; c" bash -c "for n in a:10.71 x:10.72 b:10.73; do '$BIN' network create --subnet \${n#*:}.0.0/24 \${n%%:*} >/dev/null || exit 1; done &&
    '$BIN' network rm x >/dev/null && '$BIN' network create --subnet 10.74.0.0/24 c >/dev/null"
# Containers the agent takes up before b1 when it starts again: a restart's window is as long as they take.
check "ten containers on a, then a1, b1, c1" bash -c "for i in \$(seq 1 10); do '$BIN' run -d --name f\$i --net a >/dev/null || exit 1; done &&
    '$BIN' run -d --name a1 --net a >/dev/null && '$BIN' run -d --name b1 --net b >/dev/null && '$BIN' run -d --name c1 --net c >/dev/null"
c1=$(ip_of c1)
bp exec c1 python3 "$TOOLS/frames.py" listen 7000 30 >"$STATE/c1.log" 2>&1 &
listener=$!
wait_ready "$STATE/c1.log"
# b1 and a1 send to c1 every half millisecond for as long as the restarts go on.
for sender in a1 b1; do
    bp exec "$sender" python3 -c "
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end = time.monotonic() + 25
while time.monotonic() < end:
    try: s.sendto(b'$sender', ('$c1', 7000))
    except OSError: pass
    time.sleep(0.0005)" >/dev/null 2>&1 &
done
sending() { [ "$(drops isolation container=b1)" -gt 0 ]; }
check "the datagrams are dropped as isolation before the restarts" eventually 5 sending
before=$(drops isolation container=b1)
for round in 1 2 3; do
    agent_stop
    agent_start || fail "agent restart $round"
    # Another network comes or goes between restarts, so that numbers handed out by order would shift.
    if [ $((round % 2)) = 1 ]; then bp network create --subnet 10.75.0.0/24 y >/dev/null; else bp network rm y >/dev/null; fi
    sleep 1
done
pass "three restarts with networks coming and going"
wait "$listener"
check "c1 received nothing from the other networks, at any moment" test "$(cat "$STATE/c1.log")" = ready
[ "$(drops isolation container=b1)" -gt "$before" ] && pass "the datagrams were dropped as isolation all along" ||
    fail "isolation drops: $before before, $(drops isolation container=b1) after"
check "rm -f" bash -c "'$BIN' rm -f a1 b1 c1 \$(seq -f 'f%g' 1 10) >/dev/null"
