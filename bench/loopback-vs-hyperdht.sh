#!/usr/bin/env bash
# Goodput and CPU of a natpunch pipe against hyperdht (npm `hyperdht`, whose UDX transport is C;
# bench/hyperdht/peer.js) on loopback, alternating in one run. Both are end-to-end encrypted streams
# that punched their own path: natpunch through a `natpunch server` on 127.0.0.1, hyperdht through
# a 3-node DHT testnet on 127.0.0.1. One stream, SIZE_MB one way.
#
#   natpunch goodput = bytes / (connector's "closed" - its "connected" event); "closed" comes once
#                      the peer acknowledged every byte. hyperdht goodput = the server's first byte to last.
#   CPU per GB       = user+system seconds of both peer processes (GNU time), start-up included.
#   Receivers only count: the listener's stdout goes to /dev/null (its "closed" event must report every
#   byte), as hyperdht's server counts; before 2026-12-07 it was piped into sha256sum on the same 2 cores.
#
# The hyperdht server is told it is public (PUBLIC=1: firewalled false), as it is on loopback.
# Needs dotnet, node, npm, /usr/bin/time. Settings: SIZE_MB=200 ROUNDS=5
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-200}
ROUNDS=${ROUNDS:-5}
for tool in dotnet node npm /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "'$tool' is not installed" >&2; exit 1; }
done
work=$(mktemp -d /tmp/loopback-vs-hyperdht.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; pkill -f "$work/hyperdht/peer.js" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
natpunch=(dotnet "$PWD/src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll")
bench/hyperdht/install.sh "$work/hyperdht"
export XDG_CONFIG_HOME=$work/config
port=$((20000 + RANDOM % 20000)); dhtport=$((port + 1))
"${natpunch[@]}" server --listen 127.0.0.1:$port >"$work/server.log" 2>&1 & pids+=($!)
node "$work/hyperdht/peer.js" bootstrap 127.0.0.1 $dhtport >"$work/dht.log" 2>&1 & pids+=($!)
for _ in $(seq 100); do grep -q bootstrap "$work/dht.log" && break; sleep 0.1; done
bytes=$((SIZE_MB * 1000000))
head -c "$bytes" /dev/urandom >"$work/data"
stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }
cpu_of() { cat "$@" | awk '/^[0-9.]+ [0-9.]+$/ { c += $1 + $2 } END { print c }'; }

natpunch_run() {
  local tag=$1 id="b$RANDOM$RANDOM"
  # Like hyperdht's server, which counts what arrives, the listener's bytes go nowhere: no hashing
  # process beside it on the two cores. The count is checked (its "closed" event); bodies are checked by the tests.
  /usr/bin/time -f "%U %S" -o "$work/$tag.l.cpu" "${natpunch[@]}" listen --server 127.0.0.1:$port --id "l$id" --allow-loopback --json \
      </dev/null >/dev/null 2>"$work/$tag.l.log" &
  local lpid=$!
  for _ in $(seq 300); do grep -q '"registered"' "$work/$tag.l.log" 2>/dev/null && break; sleep 0.1; done
  /usr/bin/time -f "%U %S" -o "$work/$tag.c.cpu" "${natpunch[@]}" connect --server 127.0.0.1:$port --id "c$id" --peer "l$id" --allow-loopback --json \
    <"$work/data" 2>&1 >/dev/null | stamp >"$work/$tag.c.log"
  wait "$lpid" || true
  local a z
  a=$(awk '/"event":"connected"/ {print $1; exit}' "$work/$tag.c.log")
  z=$(awk '/"event":"closed"/ {print $1; exit}' "$work/$tag.c.log")
  if [ -z "$a" ] || [ -z "$z" ] || ! grep -q "\"bytes_received\":$bytes[,}]" "$work/$tag.l.log"; then echo "fail fail"; return; fi
  awk -v b="$bytes" -v a="$a" -v z="$z" -v c="$(cpu_of "$work/$tag.l.cpu" "$work/$tag.c.cpu")" 'BEGIN { printf "%.0f %.1f\n", b * 8 / (z - a) / 1e6, c / (b / 1e9) }'
}

hyperdht_run() {
  local tag=$1 seed
  seed=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  PUBLIC=1 BIND=127.0.0.1 /usr/bin/time -f "%U %S" -o "$work/$tag.s.cpu" timeout 120 node "$work/hyperdht/peer.js" serve 127.0.0.1:$dhtport "$seed" "$bytes" >"$work/$tag.s.out" 2>"$work/$tag.s.log" &
  local spid=$!
  for _ in $(seq 100); do grep -q listening "$work/$tag.s.log" 2>/dev/null && break; sleep 0.1; done
  BIND=127.0.0.1 /usr/bin/time -f "%U %S" -o "$work/$tag.c.cpu" timeout 120 node "$work/hyperdht/peer.js" send 127.0.0.1:$dhtport "$seed" "$bytes" >"$work/$tag.c.log" 2>&1 || true
  for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  pkill -f "peer.js serve .* $seed" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  local mbit
  mbit=$(sed -n 's/.*"mbit":\([0-9.]*\).*/\1/p' "$work/$tag.s.out")
  [ -n "$mbit" ] || { echo "fail fail"; return; }
  awk -v m="$mbit" -v b="$bytes" -v c="$(cpu_of "$work/$tag.s.cpu" "$work/$tag.c.cpu")" 'BEGIN { printf "%.0f %.1f\n", m, c / (b / 1e9) }'
}

median() { tr ' ' '\n' | grep -v '^$' | grep -v fail | sort -n | awk '{a[NR]=$1} END { if (NR == 0) print "fail"; else print a[int((NR+1)/2)] }'; }
np=() npc=() hd=() hdc=()
for round in $(seq "$ROUNDS"); do
  read -r g gc < <(natpunch_run "n$round")
  read -r h hc < <(hyperdht_run "h$round")
  echo "   round $round: natpunch $g Mbit/s ($gc CPU s/GB), hyperdht $h Mbit/s ($hc CPU s/GB)" >&2
  np+=("$g") npc+=("$gc") hd+=("$h") hdc+=("$hc")
done
g=$(echo "${np[*]}" | median); gc=$(echo "${npc[*]}" | median); h=$(echo "${hd[*]}" | median); hc=$(echo "${hdc[*]}" | median)
echo
echo "natpunch pipe vs hyperdht on loopback, $SIZE_MB MB one way, median of $ROUNDS runs each; $(nproc) CPUs, $(uname -r)"
echo
echo "| | Mbit/s | CPU s/GB |"
echo "|---|---:|---:|"
echo "| natpunch | $g | $gc |"
echo "| hyperdht | $h | $hc |"
awk -v g="$g" -v h="$h" 'BEGIN { if (g != "fail" && h != "fail") printf "| natpunch / hyperdht | %.2f | |\n", g / h }'
