#!/usr/bin/env bash
# Goodput and CPU of `natpunch connect`/`listen` for two builds on the same lab path in one run:
# BEFORE (a git ref, default d007780: the last commit with the unencrypted session tag) and the
# working tree (AFTER). Runs alternate (before, after, before, after, ...) on one lab, so both see
# the same machine load. port1 (behind the port-restricted NAT) sends SIZE_MB to open1 (no NAT)
# over the direct path; the listener's stdout is hashed and checked.
#
#   goodput   = bytes / (connector's "closed" - its "connected" event), as lab-pipe-vs-iperf.sh
#   CPU per GB = user+system seconds of both processes (GNU time), whole process, per 10^9 bytes:
#                it includes start-up and JIT (about the same for both builds), so it overstates
#                the per-byte cost of small transfers
#
# Needs root, ip, nft, tc, dotnet, /usr/bin/time. Builds both in Release; the lab has a unique prefix
# and is always torn down. Traffic stays inside the lab's namespaces.
#
# Settings: BEFORE=d007780 SIZE_MB=200 ROUNDS=3 CONDITIONS="clean shaped" RATE=100mbit
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

BEFORE=${BEFORE:-d007780}
SIZE_MB=${SIZE_MB:-200}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-100mbit}
CONDITIONS=${CONDITIONS:-clean shaped}

KEEP=
source bench/lab-common.sh
require_tools ip nft tc dotnet /usr/bin/time
lab_begin pa lab-pipe-before-after

echo "== building $BEFORE and the working tree (Release)" >&2
mkdir -p "$work/before"
git archive "$BEFORE" | tar -x -C "$work/before"
dotnet build -c Release "$work/before/src/NatPunch.Cli" -nologo -v q -clp:ErrorsOnly >&2
dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
declare -A dll=([before]="$work/before/src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll" [after]="$repo/src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll")
# The identity and known-peers files of this run only (the after build makes them on first use).
export XDG_CONFIG_HOME="$work/config"

echo "== lab $prefix" >&2
lab up "$prefix" >&2
server=203.0.113.10:3478
nsx srv timeout 3600 dotnet "${dll[after]}" server --listen "$server" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do nsx srv ss -Hlnt | grep -q "203.0.113.10:3478" && break; sleep 0.2; done

bytes=$((SIZE_MB * 1000000))
head -c "$bytes" /dev/urandom >"$work/data"
want=$(sha256sum <"$work/data" | cut -d' ' -f1)
stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }

# UDP datagrams a namespace's sockets dropped for a full receive buffer (RcvbufErrors of /proc/net/snmp).
rcvbuf_errors() { nsx "$1" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1 } else print $c }' /proc/net/snmp; }

# One run of build $1: prints "GOODPUT_MBIT CPU_SECONDS_PER_GB", or "fail fail".
run() {
  local build=$1 tag=$2 id="b$RANDOM$RANDOM"
  local lerr="$work/$tag.listen.log" cerr="$work/$tag.connect.log" lsum="$work/$tag.sum"
  ( nsx open1 /usr/bin/time -f "%U %S" -o "$work/$tag.listen.cpu" timeout 600 dotnet "${dll[$build]}" listen --server "$server" --id "l$id" --json --timeout 30 \
      </dev/null 2>"$lerr" | sha256sum | cut -d' ' -f1 >"$lsum" ) &
  local lpid=$!
  local drops_open1 drops_port1
  drops_open1=$(rcvbuf_errors open1); drops_port1=$(rcvbuf_errors port1)
  for _ in $(seq 300); do grep -q '"registered"' "$lerr" 2>/dev/null && break; sleep 0.1; done
  nsx port1 /usr/bin/time -f "%U %S" -o "$work/$tag.connect.cpu" timeout 600 dotnet "${dll[$build]}" connect --server "$server" --id "c$id" --peer "l$id" --json --timeout 30 \
    <"$work/data" 2>&1 >/dev/null | stamp >"$cerr"
  local rc=${PIPESTATUS[0]}
  wait "$lpid" || true
  echo "   $tag: receive-buffer drops: receiver $(( $(rcvbuf_errors open1) - drops_open1 )), sender $(( $(rcvbuf_errors port1) - drops_port1 ))" >&2
  local t_conn t_closed
  t_conn=$(awk '/"event":"connected"/ {print $1; exit}' "$cerr")
  t_closed=$(awk '/"event":"closed"/ {print $1; exit}' "$cerr")
  if [ "$rc" != 0 ] || [ -z "$t_conn" ] || [ -z "$t_closed" ] || [ "$(cat "$lsum")" != "$want" ]; then
    echo "$build run $tag failed (connect exit $rc):" >&2
    cat "$cerr" "$lerr" >&2
    echo "fail fail"
    return
  fi
  local cpu
  cpu=$(tail -n1 "$work/$tag.listen.cpu" "$work/$tag.connect.cpu" | awk 'NF == 2 && $1 ~ /^[0-9.]+$/ { s += $1 + $2 } END { print s }')
  awk -v b="$bytes" -v a="$t_conn" -v z="$t_closed" -v c="$cpu" 'BEGIN { printf "%.0f %.1f\n", b * 8 / (z - a) / 1e6, c / (b / 1e9) }'
}

results=()
for condition in $CONDITIONS; do
  apply_condition "$condition"
  declare -A goodput=() cpu=()
  for round in $(seq "$ROUNDS"); do
    for build in before after; do
      read -r g c < <(run "$build" "$condition-$build-$round")
      echo "   $condition round $round $build: $g Mbit/s, $c CPU s/GB" >&2
      goodput[$build]+=" $g"; cpu[$build]+=" $c"
    done
  done
  gb=$(echo "${goodput[before]}" | median); ga=$(echo "${goodput[after]}" | median)
  cb=$(echo "${cpu[before]}" | median); ca=$(echo "${cpu[after]}" | median)
  ratio=$(awk -v a="$ga" -v b="$gb" 'BEGIN { if (a == "fail" || b == "fail" || b == 0) print "-"; else printf "%.3f", a / b }')
  results+=("$(printf '| %-7s | %6s | %6s | %6s | %6s | %6s |' "$condition" "$gb" "$ga" "$ratio" "$cb" "$ca")")
done
apply_condition clean

echo
echo "natpunch pipe, port1 -> open1 direct UDP, $SIZE_MB MB one way, median of $ROUNDS alternating runs; shaped = tbf $RATE; $(nproc) CPUs"
echo "before = $BEFORE, after = the working tree"
echo
echo "| condition | before Mbit/s | after Mbit/s | after / before | before CPU s/GB | after CPU s/GB |"
echo "|---|---|---|---|---|---|"
printf '%s\n' "${results[@]}"
