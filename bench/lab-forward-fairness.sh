#!/usr/bin/env bash
# Many forwarded connections through one session: aggregate goodput against one connection's, and
# how fairly they share. In the namespace lab (lab/lab.sh, docs/lab.md): an HTTP server (python's
# http.server) and `natpunch expose` on port1 (behind the port-restricted NAT), `natpunch forward` on
# open1. Per round, in this order:
#
#   one        one curl download of PARALLEL x SIZE_MB through the forward
#   parallel   PARALLEL curl downloads of SIZE_MB each, started at once, through the same forward
#   local      the same downloads on port1 itself, straight to the HTTP server (no natpunch): what
#              python's server and curl alone reach on the same CPUs, the ceiling of the parallel row
#
# aggregate goodput = bytes / (last download's end - first download's start); one connection's =
# its bytes / its time (curl's own timing). fairness = max / min of the parallel downloads' rates
# (curl's speed_download: the bytes over each one's own time). Every body's SHA-256 is checked.
# Conditions: clean (the lab as built) and shaped (tbf RATE both ways at port1's router).
#
# Needs root, ip, nft, tc, curl, python3, dotnet. Builds Release and a lab of its own; always tears it
# down. Settings: PARALLEL=100 SIZE_MB=2 ROUNDS=3 RATE=100mbit CONDITIONS="clean shaped" KEEP=dir
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

PARALLEL=${PARALLEL:-100}
SIZE_MB=${SIZE_MB:-2}
ROUNDS=${ROUNDS:-3}
RATE=${RATE:-100mbit}
CONDITIONS=${CONDITIONS:-clean shaped}
KEEP=${KEEP:-}
HTTP_PORT=18080
FORWARD_PORT=18081

source bench/lab-common.sh
require_tools ip nft tc curl python3 dotnet
lab_begin pf lab-forward-fairness

echo "== building Release" >&2
dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
natpunch=(dotnet "$repo/src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll")

echo "== lab $prefix" >&2
lab up "$prefix" >&2
server=203.0.113.10:3478
nsx srv timeout 3600 "${natpunch[@]}" server --listen "$server" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do nsx srv ss -Hlnt | grep -q "203.0.113.10:3478" && break; sleep 0.2; done

mkdir -p "$work/site" "$work/out"
head -c $((SIZE_MB * 1000000)) /dev/urandom >"$work/site/small.bin"
for _ in $(seq "$PARALLEL"); do cat "$work/site/small.bin"; done >"$work/site/large.bin"
small_hash=$(sha256sum <"$work/site/small.bin" | cut -d' ' -f1)
large_hash=$(sha256sum <"$work/site/large.bin" | cut -d' ' -f1)

# python's http.server with a backlog for PARALLEL connections at once (its default of 5 resets some).
nsx port1 timeout 3600 python3 -c '
import functools, http.server, sys
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
handler.log_message = lambda *a: None
Server(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()' "$HTTP_PORT" "$work/site" >"$work/http.log" 2>&1 &
pids+=($!)
name="x$RANDOM$RANDOM"
nsx port1 timeout 3600 "${natpunch[@]}" expose --server "$server" --id "$name" --allow-any --json "$HTTP_PORT" 2>"$work/expose.log" &
pids+=($!)
for _ in $(seq 300); do grep -q '"exposing"' "$work/expose.log" 2>/dev/null && break; sleep 0.1; done
nsx open1 timeout 3600 "${natpunch[@]}" forward --server "$server" --peer "$name" --json "$FORWARD_PORT" 2>"$work/forward.log" &
pids+=($!)
for _ in $(seq 300); do grep -q '"forwarding"' "$work/forward.log" 2>/dev/null && break; sleep 0.1; done
grep -q '"connected"' "$work/forward.log" || { echo "forward did not connect:" >&2; cat "$work/forward.log" "$work/expose.log" >&2; exit 1; }
grep '"connected"' "$work/forward.log" | head -1 >&2

# curl -w: start and end as epoch seconds, bytes and curl's rate (bytes/s).
curl_format='%{time_total} %{size_download} %{speed_download}\n'

one_run() { # prints the single connection's Mbit/s
  local tag=$1 start end
  start=$EPOCHREALTIME
  nsx open1 curl -sS --max-time 600 -o "$work/out/$tag.large" -w "$curl_format" "http://127.0.0.1:$FORWARD_PORT/large.bin" >"$work/$tag.one.log"
  end=$EPOCHREALTIME
  [ "$(sha256sum <"$work/out/$tag.large" | cut -d' ' -f1)" = "$large_hash" ] || { echo "one: body differs" >&2; echo fail; return; }
  awk -v s="$start" -v e="$end" -v b=$((PARALLEL * SIZE_MB * 1000000)) 'BEGIN { printf "%.0f\n", b * 8 / (e - s) / 1e6 }'
}

parallel_run() { # [NS PORT]: prints "AGGREGATE_MBIT MAX_OVER_MIN SLOWEST_MBIT FASTEST_MBIT"
  local tag=$1 ns=${2:-open1} port=${3:-$FORWARD_PORT} start end bad=0
  start=$EPOCHREALTIME
  nsx "$ns" bash -c "for i in \$(seq $PARALLEL); do curl -sS --max-time 600 -o $work/out/$tag.\$i -w '$curl_format' http://127.0.0.1:$port/small.bin & done; wait" >"$work/$tag.parallel.log"
  end=$EPOCHREALTIME
  for i in $(seq "$PARALLEL"); do
    [ "$(sha256sum <"$work/out/$tag.$i" | cut -d' ' -f1)" = "$small_hash" ] || bad=$((bad + 1))
  done
  rm -f "$work/out/$tag".*
  [ "$bad" = 0 ] || { echo "parallel: $bad bodies differ" >&2; echo "fail fail fail fail"; return; }
  awk -v s="$start" -v e="$end" -v b=$((PARALLEL * SIZE_MB * 1000000)) '
    { r = $3 * 8 / 1e6; if (min == "" || r < min) min = r; if (r > max) max = r; n++ }
    END { printf "%.0f %.2f %.1f %.1f\n", b * 8 / (e - s) / 1e6, max / min, min, max }' "$work/$tag.parallel.log"
}

results=()
for condition in $CONDITIONS; do
  apply_condition "$condition"
  ones=() aggs=() fairs=() locals=()
  for round in $(seq "$ROUNDS"); do
    o=$(one_run "$condition-$round")
    read -r a f lo hi < <(parallel_run "$condition-$round")
    # The same downloads from the server's own host, no natpunch: what python and curl alone reach on these CPUs.
    read -r b _ _ _ < <(parallel_run "$condition-$round-local" port1 "$HTTP_PORT")
    echo "   $condition round $round: one connection $o Mbit/s; $PARALLEL at once $a Mbit/s together, each $lo..$hi Mbit/s (max/min $f); without natpunch $b Mbit/s" >&2
    ones+=("$o") aggs+=("$a") fairs+=("$f") locals+=("$b")
  done
  o=$(echo "${ones[*]}" | median); a=$(echo "${aggs[*]}" | median); f=$(echo "${fairs[*]}" | median); b=$(echo "${locals[*]}" | median)
  results+=("$(printf '| %-7s | %5s | %5s | %5s | %5s | %5s |' "$condition" "$o" "$a" "$(awk -v a="$a" -v o="$o" 'BEGIN { if (o + 0 > 0 && a + 0 > 0) printf "%.3f", a / o; else print "-" }')" "$f" "$b")")
done
apply_condition clean

echo
echo "$PARALLEL forwarded connections through one session (forward on open1, expose on port1 behind the port-restricted NAT)"
echo "$SIZE_MB MB each (one connection: $((PARALLEL * SIZE_MB)) MB), median of $ROUNDS rounds; shaped = tbf $RATE; $(nproc) CPUs, $(uname -r)"
echo "path: $(grep -o '"path":"[a-z]*"' "$work/forward.log" | head -1)"
echo
echo "| condition | one connection Mbit/s | $PARALLEL together Mbit/s | together / one | max/min of the $PARALLEL | $PARALLEL together without natpunch (curl to http.server on its own host) |"
echo "|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${results[@]}"
