#!/usr/bin/env bash
# Memory of idle TCP connections on a `natpunch server` (Release, loopback): CONNECTIONS clients
# each send one STUN Binding request over TCP, read the answer and then hold the connection silent
# (within the idle timeout, 120 s). Prints the server's RSS before and with them, and per
# connection. The per-source limit is raised so that one address can open them all.
#
# Settings: CONNECTIONS=2000
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-2000}
port=$((20000 + RANDOM % 20000))
dotnet build -c Release src/NatPunch.Cli -v q -nologo >/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
dotnet src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll server --listen 127.0.0.1:$port \
  --max-connections-per-ip $((CONNECTIONS + 10)) --max-connections $((CONNECTIONS + 10)) >/tmp/server-idle-tcp.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
sleep 2
rss() { awk '/VmRSS/ {print $2}' /proc/$server/status; }
before=$(rss)
python3 - "$port" "$CONNECTIONS" <<'PY' &
import socket, struct, sys, os, time
port, count = int(sys.argv[1]), int(sys.argv[2])
held = []
for i in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(struct.pack(">HHI", 1, 0, 0x2112A442) + os.urandom(12))
    assert len(s.recv(512)) >= 20
    held.append(s)
print("open", len(held), flush=True)
time.sleep(3600)
PY
client=$!
trap 'kill $client $server 2>/dev/null || true' EXIT
until [ "$(ss -tn state established "( dport = :$port )" | tail -n +2 | wc -l)" -ge "$CONNECTIONS" ]; do
  kill -0 $client 2>/dev/null || { echo "client failed"; exit 1; }
  sleep 1
done
sleep 5
after=$(rss)
echo "server RSS before: $before KiB; with $CONNECTIONS idle STUN-over-TCP connections: $after KiB"
awk -v a=$before -v b=$after -v n=$CONNECTIONS 'BEGIN { printf "per connection: %.1f KiB\n", (b - a) / n }'
