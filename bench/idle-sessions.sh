#!/usr/bin/env bash
# Memory and CPU of one `natpunch expose` node holding many idle sessions (keepalives only), on
# loopback: a `natpunch server`, the expose node, and bench/NatPunch.Benchmarks' idle-sessions
# client, which opens SESSIONS sessions to it from NODES nodes and holds them.
#
#   memory per session = (RSS with the sessions open - RSS before the first) / sessions connected
#   idle CPU           = user+system time of the expose process over IDLE seconds, once all are open
#
# The RSS is the kernel's (VmRSS), after a full GC was given time to run (the node is idle); thread
# stacks count as far as they were touched. Both processes run Release builds.
#
# Settings: SESSIONS=1000 NODES=20 IDLE=60 RELAY=never
set -euo pipefail
cd "$(dirname "$0")/.."
SESSIONS=${SESSIONS:-1000}
NODES=${NODES:-20}
IDLE=${IDLE:-60}
RELAY=${RELAY:-never}
port=$((20000 + RANDOM % 20000))

dotnet build -c Release src/NatPunch.Cli -v q -nologo >/dev/null
dotnet build -c Release bench/NatPunch.Benchmarks -v q -nologo >/dev/null
np="dotnet src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll"
work=$(mktemp -d /tmp/idle-sessions.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

export XDG_CONFIG_HOME=$work/config
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # a socket or two per session
$np server --listen 127.0.0.1:$port >"$work/server.log" 2>&1 & pids+=($!)
sleep 1
$np expose --server 127.0.0.1:$port --id idle-target --allow-any --allow-loopback --relay "$RELAY" --json 9 >"$work/expose.log" 2>&1 & expose=$!; pids+=($expose)
until grep -q '"event":"exposing"' "$work/expose.log"; do sleep 0.2; done
sleep 5
rss() { awk '/VmRSS/ {print $2}' /proc/$1/status; }                   # KiB
cpu() { awk '{print $14 + $15}' /proc/$1/stat; }                        # clock ticks
threads() { awk '/Threads/ {print $2}' /proc/$1/status; }
hz=$(getconf CLK_TCK)
rss0=$(rss $expose); threads0=$(threads $expose)
echo "expose before: RSS $rss0 KiB, $threads0 threads"

mkfifo "$work/hold"
dotnet bench/NatPunch.Benchmarks/bin/Release/net10.0/NatPunch.Benchmarks.dll idle-sessions 127.0.0.1:$port idle-target "$SESSIONS" "$NODES" 3600 \
  <"$work/hold" >"$work/client.out" 2>"$work/client.err" & client=$!; pids+=($client)
exec 3>"$work/hold"
until grep -q '^open ' "$work/client.out" 2>/dev/null; do
  kill -0 $client 2>/dev/null || { echo "client failed:"; grep -v '^   at ' "$work/client.err" | tail -20; exit 1; }
  sleep 1
done
echo "client: $(cat "$work/client.out")"
grep 'a connect failed' "$work/client.err" || true
connected=$(grep -c '"event":"peer_connected"' "$work/expose.log")
echo "expose: $connected peers connected"
sleep 15
grep 'managed heap' "$work/client.err" || true
cpu1=$(cpu $expose); ccpu1=$(cpu $client)
sleep "$IDLE"
cpu2=$(cpu $expose); ccpu2=$(cpu $client)
rss1=$(rss $expose); threads1=$(threads $expose)
echo "expose with $SESSIONS sessions: RSS $rss1 KiB, $threads1 threads"
awk -v a=$rss0 -v b=$rss1 -v n=$connected 'BEGIN { printf "memory per session: %.1f KiB (over the %d connected)\n", (b - a) / n, n }'
awk -v c=$((cpu2 - cpu1)) -v hz=$hz -v t=$IDLE -v n=$connected 'BEGIN { printf "expose idle CPU: %.2f %% of one core over %d s (%.1f us per session per second)\n", 100 * c / hz / t, t, 1e6 * c / hz / t / n }'
awk -v c=$((ccpu2 - ccpu1)) -v hz=$hz -v t=$IDLE 'BEGIN { printf "client idle CPU: %.2f %% of one core\n", 100 * c / hz / t }'
exec 3>&-
wait $client || true
echo "client: $(tail -1 "$work/client.out")"
