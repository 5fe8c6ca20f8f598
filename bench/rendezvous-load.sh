#!/usr/bin/env bash
# The rendezvous under load, on loopback, against a Release `natpunch server`:
#  1. CONNECTIONS idle rendezvous clients (each registers a name and answers the server's pings),
#     from SOURCES loopback addresses (127.1.x.y; the per-source limits stay at their defaults:
#     100 connections, 60 registrations a minute). Prints the server's RSS before and with them,
#     per connection, and its CPU while they idle.
#  2. While they are held, a flood from 4 other addresses (127.2.0.1-4) for FLOOD_SECONDS: TCP
#     connections that send garbage and close, connections that send nothing (half-open, until the
#     handshake timeout), and UDP garbage, all as fast as one Python process per kind goes. Meanwhile
#     PAIRS pairs of `natpunch listen`/`connect` meet through the server one after another: each must
#     connect and carry its bytes. Prints their times, what the server refused (its metrics), and
#     how many of the idle clients are still registered after it.
#
# Settings: CONNECTIONS=10000 SOURCES=200 FLOOD_SECONDS=30 PAIRS=5
set -euo pipefail
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-10000}
SOURCES=${SOURCES:-200}
FLOOD_SECONDS=${FLOOD_SECONDS:-30}
PAIRS=${PAIRS:-5}
port=$((20000 + RANDOM % 20000))
metrics=$((port + 1))
work=$(mktemp -d)
dotnet build -c Release src/NatPunch.Cli -v q -nologo >/dev/null
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
natpunch() { XDG_CONFIG_HOME=$work dotnet src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll "$@"; }
# Room for the idle clients, the flood's silent connections and the pairs under the global cap.
XDG_CONFIG_HOME=$work dotnet src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll server --listen 127.0.0.1:$port --metrics 127.0.0.1:$metrics --max-connections $((CONNECTIONS + 1000)) >"$work/server.log" 2>&1 &
server=$!
pids=($server)
trap 'kill "${pids[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
sleep 2
rss() { awk '/VmRSS/ {print $2}' /proc/$server/status; }
cpu_ticks() { awk '{print $14 + $15}' /proc/$server/stat; }
before=$(rss)

# ---- 1. idle clients --------------------------------------------------------------------------
python3 - "$port" "$CONNECTIONS" "$SOURCES" "$work/idle.count" <<'PY' &
import asyncio, json, struct, sys
port, count, sources, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
registered = 0

def frame(message):
    payload = json.dumps(message).encode()
    return bytes([0xE0, 1]) + struct.pack(">H", len(payload)) + payload

async def client(i):
    global registered
    source = f"127.1.{1 + (i % sources) // 250}.{1 + (i % sources) % 250}"
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    writer.write(frame({"type": "register", "name": f"idle-{i}", "instance": f"{i:016x}"}))
    while True:
        header = await reader.readexactly(4)
        message = json.loads(await reader.readexactly(struct.unpack(">H", header[2:])[0]))
        if message["type"] == "registered":
            registered += 1
        elif message["type"] == "ping":
            writer.write(frame({"type": "pong", "id": message["id"]}))
        elif message["type"] == "error":
            raise RuntimeError(message)

async def report():
    while True:
        with open(out, "w") as f:
            f.write(str(registered))
        await asyncio.sleep(1)

async def main():
    asyncio.ensure_future(report())
    tasks = []
    for i in range(count):
        tasks.append(asyncio.ensure_future(client(i)))
        if i % 200 == 199:
            await asyncio.sleep(0.05)  # a crowd, not a single burst
    results = await asyncio.gather(*tasks, return_exceptions=True)
    print("idle clients ended:", [r for r in results if r is not None][:3], flush=True)

asyncio.run(main())
PY
pids+=($!)
started=$(date +%s)
until [ "$(cat "$work/idle.count" 2>/dev/null || echo 0)" -ge "$CONNECTIONS" ]; do
  [ $(( $(date +%s) - started )) -lt 600 ] || { echo "only $(cat "$work/idle.count") of $CONNECTIONS registered in 600 s"; tail -5 "$work/server.log"; exit 1; }
  sleep 1
done
echo "$CONNECTIONS idle clients registered in $(( $(date +%s) - started )) s"
sleep 10
after=$(rss)
t0=$(cpu_ticks); sleep 10; t1=$(cpu_ticks)
echo "server RSS before: $before KiB; with $CONNECTIONS idle rendezvous clients: $after KiB"
awk -v a=$before -v b=$after -v n=$CONNECTIONS 'BEGIN { printf "per connection: %.1f KiB\n", (b - a) / n }'
awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "server CPU while they idle (pinged every 3 s): %.1f %% of a core\n", 100 * t / hz / 10 }'

# One pair meets through the server: listener first, connector 1 s later, 1 MB carried and compared.
pair() { # LABEL
  local label=$1 t listener
  head -c 1000000 /dev/urandom >"$work/in.$label"
  t=$(date +%s.%N)
  natpunch listen --server 127.0.0.1:$port --id "bob-$label" --allow-loopback --timeout 30 >"$work/out.$label" 2>"$work/listen.$label.log" &
  listener=$!
  sleep 1
  if natpunch connect --server 127.0.0.1:$port --id "alice-$label" --peer "bob-$label" --allow-loopback --timeout 30 <"$work/in.$label" 2>"$work/connect.$label.log" \
     && wait $listener && cmp -s "$work/in.$label" "$work/out.$label"; then
    awk -v s="$t" -v e="$(date +%s.%N)" -v l="$label" 'BEGIN { printf "pair %s: connected and carried 1 MB in %.1f s (listener started 1 s before the connector)\n", l, e - s }'
  else
    echo "pair $label FAILED"; tail -3 "$work/connect.$label.log" "$work/listen.$label.log"
  fi
}
pair "before-the-flood"

# ---- 2. flood, with pairs meeting meanwhile ----------------------------------------------------
for kind in garbage silent udp; do
  for a in 1 2 3 4; do
    python3 - "$port" "$kind" "127.2.0.$a" "$FLOOD_SECONDS" <<'PY' &
import os, socket, sys, time
port, kind, source, seconds = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
end = time.time() + seconds
held = []
sent = 0
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind((source, 0))
while time.time() < end:
    if kind == "udp":
        for _ in range(100):
            try:
                udp.sendto(os.urandom(64), ("127.0.0.1", port))
                sent += 1
            except OSError:
                pass
        continue
    try:
        s = socket.socket()
        s.bind((source, 0))
        s.settimeout(1)
        s.connect(("127.0.0.1", port))
        if kind == "garbage":
            s.sendall(os.urandom(200))
            s.close()
        else:
            held.append(s)  # says nothing; the server closes it after the handshake timeout
            held = held[-200:]
        sent += 1
    except OSError:
        time.sleep(0.001)
print(f"flood {kind} from {source}: {sent}", flush=True)
PY
    pids+=($!)
  done
done
sleep 2
for i in $(seq 1 "$PAIRS"); do
  pair "$i-during-the-flood"
done
wait "${pids[@]:2}" 2>/dev/null || true
echo "after the flood: $(cat "$work/idle.count") idle clients had registered; still open: $(ss -tn state established "( dport = :$port )" | tail -n +2 | wc -l) connections"
curl -s "127.0.0.1:$metrics/metrics" | grep -E '^natpunch_(refusals_total|tcp_connections|stun_dropped_total|rendezvous_names|tls_handshakes_total)' | grep -v ' 0$'
echo "server RSS at the end: $(rss) KiB"
