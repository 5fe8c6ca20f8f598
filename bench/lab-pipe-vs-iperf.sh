#!/usr/bin/env bash
# Goodput of `natpunch connect`/`listen` against kernel TCP (iperf3) on the same path through the
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
# stdout is hashed and checked against the file sent. iperf3: the receiver's rate of `iperf3 -c -n BYTES`.
# Also printed: natpunch's whole run (process start to exit, rendezvous and punching included).
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
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

SIZE_MB=${SIZE_MB:-100}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-100mbit}
CONDITIONS=${CONDITIONS:-clean loss1 shaped shaped-loss1}
KEEP=${KEEP:-}

[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
for tool in ip nft tc iperf3 dotnet; do
  command -v "$tool" >/dev/null || { echo "'$tool' is not installed" >&2; exit 1; }
done

# A prefix no lab uses now: pb + 4 digits.
while :; do
  prefix=pb$(printf '%04d' $((RANDOM % 10000)))
  ip netns list | grep -q "^$prefix-" || break
done
lab() { bash "$repo/lab/lab.sh" "$@"; }
nsx() { ip netns exec "$prefix-$1" "${@:2}"; }

work=$(mktemp -d /tmp/lab-pipe-vs-iperf.XXXXXX)
pids=()
cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  # down kills anything still running in the lab's namespaces and removes them (and the qdiscs).
  lab down "$prefix" >/dev/null 2>&1
  if [ -n "$KEEP" ]; then mkdir -p "$KEEP" && cp -r "$work"/*.log "$KEEP"/ 2>/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building Release" >&2
dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
natpunch=(dotnet "$repo/src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll")

echo "== lab $prefix" >&2
lab up "$prefix" >&2
server=203.0.113.10:3478
open1_ip=$(lab info "$prefix" | sed -n 's/^host_open1_ip=//p')
# Bounded by timeout: nothing of ours outlives a broken script even without the trap.
nsx srv timeout 3600 "${natpunch[@]}" server --listen "$server" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do nsx srv ss -Hlnt | grep -q "203.0.113.10:3478" && break; sleep 0.2; done

bytes=$((SIZE_MB * 1000000))
head -c "$bytes" /dev/urandom >"$work/data"
want=$(sha256sum <"$work/data" | cut -d' ' -f1)

stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }

# One natpunch run: prints "GOODPUT_MBIT WALL_SECONDS", or "fail fail" (and why on stderr).
natpunch_run() {
  local tag=$1 id="b$RANDOM$RANDOM"
  local lerr="$work/$tag.listen.log" cerr="$work/$tag.connect.log" lsum="$work/$tag.sum"
  ( nsx open1 timeout 600 "${natpunch[@]}" listen --server "$server" --id "l$id" --json --timeout 30 \
      </dev/null 2>"$lerr" | sha256sum | cut -d' ' -f1 >"$lsum" ) &
  local lpid=$!
  for _ in $(seq 300); do grep -q '"registered"' "$lerr" 2>/dev/null && break; sleep 0.1; done
  local start=$EPOCHREALTIME
  nsx port1 timeout 600 "${natpunch[@]}" connect --server "$server" --id "c$id" --peer "l$id" --json --timeout 30 \
    <"$work/data" 2>&1 >/dev/null | stamp >"$cerr"
  local rc=${PIPESTATUS[0]} end=$EPOCHREALTIME
  wait "$lpid" || true
  local t_conn t_closed
  t_conn=$(awk '/"event":"connected"/ {print $1; exit}' "$cerr")
  t_closed=$(awk '/"event":"closed"/ {print $1; exit}' "$cerr")
  if [ "$rc" != 0 ] || [ -z "$t_conn" ] || [ -z "$t_closed" ] || [ "$(cat "$lsum")" != "$want" ]; then
    echo "natpunch run $tag failed (connect exit $rc, hash $(cat "$lsum") want $want):" >&2
    cat "$cerr" "$lerr" >&2
    echo "fail fail"
    return
  fi
  awk -v b="$bytes" -v a="$t_conn" -v z="$t_closed" -v s="$start" -v e="$end" \
    'BEGIN { printf "%.0f %.2f\n", b * 8 / (z - a) / 1e6, e - s }'
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

median() { tr ' ' '\n' | grep -v '^$' | grep -v fail | sort -n | awk '{a[NR]=$1} END { if (NR == 0) print "fail"; else print a[int((NR+1)/2)] }'; }

shape() { # on|off: tbf RATE on the port router's WAN (upload) and its bridge port (download)
  local dev
  if [ "$1" = on ]; then
    nsx rport tc qdisc replace dev wan root tbf rate "$RATE" burst 128kb latency 20ms
    nsx inet tc qdisc replace dev rport root tbf rate "$RATE" burst 128kb latency 20ms
  else
    nsx rport tc qdisc del dev wan root 2>/dev/null || true
    nsx inet tc qdisc del dev rport root 2>/dev/null || true
  fi
}

results=()
for condition in $CONDITIONS; do
  case $condition in
    clean) shape off; lab loss 0 "$prefix" >/dev/null ;;
    loss1) shape off; lab loss 1 "$prefix" >/dev/null ;;
    shaped) shape on; lab loss 0 "$prefix" >/dev/null ;;
    shaped-loss1) shape on; lab loss 1 "$prefix" >/dev/null ;;
    *) echo "unknown condition $condition" >&2; exit 2 ;;
  esac
  np=() wall=() tcp=() mtu=()
  for round in $(seq "$ROUNDS"); do
    read -r g w < <(natpunch_run "$condition-$round")
    t=$(iperf_run "$condition-$round")
    m=$(iperf_run "$condition-$round-mtu" mtu)
    echo "   $condition round $round: natpunch $g Mbit/s (whole run $w s), iperf3 $t Mbit/s, iperf3 one MTU per frame $m Mbit/s" >&2
    np+=("$g") wall+=("$w") tcp+=("$t") mtu+=("$m")
  done
  g=$(echo "${np[*]}" | median); w=$(echo "${wall[*]}" | median)
  t=$(echo "${tcp[*]}" | median); m=$(echo "${mtu[*]}" | median)
  ratio() { awk -v g="$1" -v t="$2" 'BEGIN { if (g == "fail" || t == "fail" || t == 0) print "-"; else printf "%.3f", g / t }'; }
  results+=("$(printf '| %-13s | %6s | %6s | %8s | %8s | %6s | %6s |' "$condition" "$g" "$w" "$t" "$m" "$(ratio "$g" "$t")" "$(ratio "$g" "$m")")")
done
shape off
lab loss 0 "$prefix" >/dev/null

echo
echo "natpunch pipe (port1 -> open1, direct UDP through the port-restricted NAT) vs kernel TCP (iperf3, same path)"
echo "$SIZE_MB MB one way, median of $ROUNDS runs each; shaped = tbf $RATE; $(nproc) CPUs, $(uname -r)"
echo
echo "| condition | natpunch Mbit/s | natpunch whole run, s | iperf3 TCP Mbit/s (GSO as is) | iperf3 TCP Mbit/s (1 MTU/frame) | natpunch / TCP | natpunch / TCP 1 MTU |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
