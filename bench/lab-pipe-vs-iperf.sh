#!/usr/bin/env bash
# Goodput of `natpunch connect`/`listen` against kernel TCP (iperf3) and hyperdht (npm `hyperdht`, whose
# UDX transport is C; bench/hyperdht/peer.js) on the same path through the
# namespace lab (lab/lab.sh, docs/lab.md): port1 (behind the port-restricted cone NAT) sends to open1
# (no NAT) over the direct path natpunch punches, and iperf3's client in port1 sends the same
# number of bytes to an iperf3 server in open1 through the same NAT. Both in the SAME run, alternating,
# under each condition:
#
#   clean                 the lab as built (veths: no bandwidth limit, RTT ~0.1 ms)
#   loss 1 %              lab.sh loss 1 (1 % of IPv4 frames dropped on the internet bridge)
#   100 Mbit/s            tbf on the port router's WAN (upload) and on its bridge port (download)
#   100 Mbit/s + loss 1 % both
#
# natpunch goodput = bytes / (connector's "closed" event - its "connected" event), timed from its
# --json stderr: "closed" comes once every byte has been acknowledged by the peer. The listener's
# stdout goes to /dev/null, as iperf3's and hyperdht's receivers only count, and its "closed" event
# must report every byte (before 2026-12-07 it was piped into sha256sum, a third process on the two cores).
# iperf3: the receiver's rate of `iperf3 -c -n BYTES`.
# Also printed: natpunch's whole run (process start to exit, rendezvous and punching included).
# hyperdht: a 3-node DHT testnet runs in the server's namespace; its server in open1 and its client in
# port1 punch through the same NAT, and the server times first byte to last (bench/hyperdht/peer.js).
# CPU per GB (natpunch and hyperdht) = user+system seconds of both processes (GNU time), whole process,
# start-up included, per 10^9 bytes.
#
# iperf3 runs twice per round: as the kernel does it on these veths (TSO/GSO: a "frame" on the
# bridge is a TCP super-segment of up to 64 KB), and with `gso_max_segs 1` on both hosts' eth0
# (every frame at most one MTU, as natpunch's datagrams are). The loss rule drops 1 % of *frames*,
# so with super-segments kernel TCP loses ~40x fewer packets per byte than natpunch does: the
# one-MTU figure is the like-for-like one under loss.
#
# Needs root, ip, nft, tc, iperf3, dotnet. Builds Release and a lab of its own with a unique prefix;
# always tears it down (trap), also on failure or Ctrl-C. Traffic stays inside the lab's namespaces.
#
# Settings (environment variables):
#   SIZE_MB=100   megabytes (10^6 bytes) sent per run
#   ROUNDS=3      runs of each tool per condition; the median is printed
#   RATE=100mbit  the tbf rate of the shaped conditions
#   CONDITIONS="clean loss1 shaped shaped-loss1"
#   KEEP=         a directory to keep the raw logs in
#   HYPERDHT=1    0: leave hyperdht out (it needs node and npm; the package comes from the npm registry)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

SIZE_MB=${SIZE_MB:-100}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-100mbit}
CONDITIONS=${CONDITIONS:-clean loss1 shaped shaped-loss1}
KEEP=${KEEP:-}
HYPERDHT=${HYPERDHT:-1}

source bench/lab-common.sh
require_tools ip nft tc iperf3 dotnet /usr/bin/time $( [ "$HYPERDHT" = 1 ] && echo node npm )
lab_begin pb lab-pipe-vs-iperf

echo "== building Release" >&2
dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
natpunch=(dotnet "$repo/src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll")

if [ "$HYPERDHT" = 1 ]; then
  bench/hyperdht/install.sh "$work/hyperdht"
fi

echo "== lab $prefix" >&2
lab up "$prefix" >&2
server=203.0.113.10:3478
open1_ip=$(lab info "$prefix" | sed -n 's/^host_open1_ip=//p')
# Bounded by timeout: nothing of ours outlives a broken script even without the trap.
nsx srv timeout 3600 "${natpunch[@]}" server --listen "$server" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do nsx srv ss -Hlnt | grep -q "203.0.113.10:3478" && break; sleep 0.2; done

if [ "$HYPERDHT" = 1 ]; then
  nsx srv timeout 3600 node "$work/hyperdht/peer.js" bootstrap 203.0.113.10 49737 >"$work/hyperdht-bootstrap.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do grep -q bootstrap "$work/hyperdht-bootstrap.log" && break; sleep 0.2; done
fi

bytes=$((SIZE_MB * 1000000))
head -c "$bytes" /dev/urandom >"$work/data"

stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }

# One natpunch run: prints "GOODPUT_MBIT WALL_SECONDS CPU_S_PER_GB", or "fail fail fail" (and why on stderr).
natpunch_run() {
  local tag=$1 id="b$RANDOM$RANDOM"
  local lerr="$work/$tag.listen.log" cerr="$work/$tag.connect.log"
  # Like hyperdht's server and iperf3's, which count what arrives, the listener's bytes go nowhere: no
  # hashing process beside it on the two cores. The count is checked (its "closed" event); the lab tests check bodies.
  nsx open1 /usr/bin/time -f "%U %S" -o "$work/$tag.listen.cpu" timeout 600 "${natpunch[@]}" listen --server "$server" --id "l$id" --json --timeout 30 \
      </dev/null >/dev/null 2>"$lerr" &
  local lpid=$!
  for _ in $(seq 300); do grep -q '"registered"' "$lerr" 2>/dev/null && break; sleep 0.1; done
  local start=$EPOCHREALTIME
  nsx port1 /usr/bin/time -f "%U %S" -o "$work/$tag.connect.cpu" timeout 600 "${natpunch[@]}" connect --server "$server" --id "c$id" --peer "l$id" --json --timeout 30 \
    <"$work/data" 2>&1 >/dev/null | stamp >"$cerr"
  local rc=${PIPESTATUS[0]} end=$EPOCHREALTIME
  wait "$lpid" || true
  local t_conn t_closed
  t_conn=$(awk '/"event":"connected"/ {print $1; exit}' "$cerr")
  t_closed=$(awk '/"event":"closed"/ {print $1; exit}' "$cerr")
  if [ "$rc" != 0 ] || [ -z "$t_conn" ] || [ -z "$t_closed" ] || ! grep -q "\"bytes_received\":$bytes[,}]" "$lerr"; then
    echo "natpunch run $tag failed (connect exit $rc, or the listener did not report $bytes bytes received):" >&2
    cat "$cerr" "$lerr" >&2
    echo "fail fail fail"
    return
  fi
  local cpu
  cpu=$(cat "$work/$tag.listen.cpu" "$work/$tag.connect.cpu" | awk '/^[0-9.]+ [0-9.]+$/ { c += $1 + $2 } END { print c }')
  awk -v b="$bytes" -v a="$t_conn" -v z="$t_closed" -v s="$start" -v e="$end" -v c="$cpu" \
    'BEGIN { printf "%.0f %.2f %.1f\n", b * 8 / (z - a) / 1e6, e - s, c / (b / 1e9) }'
}

# One hyperdht run, the same bytes the same way: prints "GOODPUT_MBIT CPU_S_PER_GB", or "fail fail".
hyperdht_run() {
  local tag=$1 seed
  seed=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  nsx open1 env PUBLIC=1 /usr/bin/time -f "%U %S" -o "$work/$tag.hd-serve.cpu" timeout 300 node "$work/hyperdht/peer.js" serve 203.0.113.10:49737 "$seed" "$bytes" \
    >"$work/$tag.hd-serve.out" 2>"$work/$tag.hd-serve.log" &
  local spid=$!
  for _ in $(seq 100); do grep -q listening "$work/$tag.hd-serve.log" 2>/dev/null && break; sleep 0.1; done
  nsx port1 /usr/bin/time -f "%U %S" -o "$work/$tag.hd-send.cpu" timeout 300 node "$work/hyperdht/peer.js" send 203.0.113.10:49737 "$seed" "$bytes" \
    >"$work/$tag.hd-send.log" 2>&1 || true
  # The server exits once every byte arrived; a run that failed would leave it waiting.
  for _ in $(seq 50); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  pkill -f "peer.js serve .* $seed" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  local mbit cpu
  mbit=$(sed -n 's/.*"mbit":\([0-9.]*\).*/\1/p' "$work/$tag.hd-serve.out")
  cpu=$(cat "$work/$tag.hd-serve.cpu" "$work/$tag.hd-send.cpu" 2>/dev/null | awk '/^[0-9.]+ [0-9.]+$/ { c += $1 + $2 } END { print c }')
  if [ -z "$mbit" ]; then
    echo "hyperdht run $tag failed:" >&2
    cat "$work/$tag.hd-serve.log" "$work/$tag.hd-send.log" >&2
    echo "fail fail"
    return
  fi
  awk -v m="$mbit" -v c="$cpu" -v b="$bytes" 'BEGIN { printf "%.0f %.1f\n", m, c / (b / 1e9) }'
}

# One iperf3 run, the same bytes the same way: prints the receiver's Mbit/s.
# $2 = mtu: both hosts' eth0 limited to one MTU per frame (gso_max_segs 1) for this run.
iperf_run() {
  local tag=$1 segs=65535
  [ "${2:-}" = mtu ] && segs=1
  ip -n "$prefix-port1" link set dev eth0 gso_max_segs "$segs"
  ip -n "$prefix-open1" link set dev eth0 gso_max_segs "$segs"
  nsx open1 timeout 300 iperf3 -s -1 -B "$open1_ip" >"$work/$tag.iperf-server.log" 2>&1 &
  local spid=$!
  for _ in $(seq 50); do nsx open1 ss -Hlnt | grep -q ":5201" && break; sleep 0.1; done
  nsx port1 timeout 300 iperf3 -c "$open1_ip" -n "$bytes" -f m >"$work/$tag.iperf.log" 2>&1 || true
  wait "$spid" 2>/dev/null || true
  ip -n "$prefix-port1" link set dev eth0 gso_max_segs 65535
  ip -n "$prefix-open1" link set dev eth0 gso_max_segs 65535
  awk '/receiver/ { v = $(NF-2) } END { if (v == "") print "fail"; else print v }' "$work/$tag.iperf.log"
}

results=()
for condition in $CONDITIONS; do
  apply_condition "$condition"
  np=() wall=() npcpu=() hd=() hdcpu=() tcp=() mtu=()
  for round in $(seq "$ROUNDS"); do
    read -r g w gc < <(natpunch_run "$condition-$round")
    h=- hc=-
    [ "$HYPERDHT" = 1 ] && read -r h hc < <(hyperdht_run "$condition-$round")
    t=$(iperf_run "$condition-$round")
    m=$(iperf_run "$condition-$round-mtu" mtu)
    echo "   $condition round $round: natpunch $g Mbit/s ($gc CPU s/GB, whole run $w s), hyperdht $h Mbit/s ($hc CPU s/GB), iperf3 $t Mbit/s, iperf3 one MTU per frame $m Mbit/s" >&2
    np+=("$g") wall+=("$w") npcpu+=("$gc") hd+=("$h") hdcpu+=("$hc") tcp+=("$t") mtu+=("$m")
  done
  g=$(echo "${np[*]}" | median); w=$(echo "${wall[*]}" | median); gc=$(echo "${npcpu[*]}" | median)
  h=$(echo "${hd[*]}" | median); hc=$(echo "${hdcpu[*]}" | median)
  t=$(echo "${tcp[*]}" | median); m=$(echo "${mtu[*]}" | median)
  ratio() { awk -v g="$1" -v t="$2" 'BEGIN { if (g == "fail" || t == "fail" || t == "-" || t == 0) print "-"; else printf "%.3f", g / t }'; }
  results+=("$(printf '| %-13s | %6s | %5s | %6s | %6s | %5s | %8s | %8s | %6s | %6s | %6s |' "$condition" "$g" "$gc" "$w" "$h" "$hc" "$t" "$m" "$(ratio "$g" "$h")" "$(ratio "$g" "$t")" "$(ratio "$g" "$m")")")
done
apply_condition clean

echo
echo "natpunch pipe (port1 -> open1, direct UDP through the port-restricted NAT) vs hyperdht and kernel TCP (iperf3), same path"
echo "$SIZE_MB MB one way, median of $ROUNDS runs each; shaped = tbf $RATE; $(nproc) CPUs, $(uname -r)"
echo
echo "| condition | natpunch Mbit/s | natpunch CPU s/GB | natpunch whole run, s | hyperdht Mbit/s | hyperdht CPU s/GB | iperf3 TCP Mbit/s (GSO as is) | iperf3 TCP Mbit/s (1 MTU/frame) | natpunch / hyperdht | natpunch / TCP | natpunch / TCP 1 MTU |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
