#!/usr/bin/env bash
# Which pairs of the NAT lab connect, and how: natpunch (listen/connect, empty input) against
# hyperdht (npm `hyperdht`, bench/hyperdht/peer.js: its own hole punching, birthday probing for
# symmetric NATs included, no relay), the same pairs in one run on a lab of its own.
#
# For each pair "SERVER_HOST CLIENT_HOST" and each of ATTEMPTS attempts:
#   natpunch: listen on SERVER_HOST, connect from CLIENT_HOST with input that lasts HOLD seconds; the
#             connector's "connected" events: direct (first path, or a later one after the relay: port
#             probing) or relay, and the milliseconds from the connector's start to the direct path;
#   hyperdht: serve on SERVER_HOST, send 100 kB from CLIENT_HOST; success when the server received
#             every byte within TIMEOUT seconds; time from the sender's start to its "connected".
# The lab's server namespace runs `natpunch server --alt-address` and a 4-node hyperdht testnet;
# miniupnpd runs on the upnp router (lab.sh upnp on), so upnp hosts have port mapping (natpunch
# asks for it; hyperdht does not).
#
# The hyperdht testnet's nodes sit on four addresses of the server's namespace (.10, .12, .13, .14):
# hyperdht learns its NAT from the nodes that answer it, and with a 3-node testnet on one address
# (SPREAD=0) it aborted every hole punch (HOLEPUNCH_ABORTED), even between two port-restricted
# cones; spread out, it punches them all (docs/lab-results.md §8).
#
# Settings: ATTEMPTS=10 TIMEOUT=30 HOLD=12 PAIRS="sym1 port1;port1 sym1;upnp1 sym1;sym1 upnp1;upnp1 port1;port1 cgnat1"
#           SPREAD=1 (0: the testnet on one address) KEEP=dir (keep the logs)
# Needs root, ip, nft, dotnet, node and npm (the package comes from the npm registry).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

ATTEMPTS=${ATTEMPTS:-10}
TIMEOUT=${TIMEOUT:-30}
PAIRS=${PAIRS:-sym1 port1;port1 sym1;upnp1 sym1;sym1 upnp1;upnp1 port1;port1 cgnat1}
KEEP=${KEEP:-}
HOLD=${HOLD:-12}

source bench/lab-common.sh
require_tools ip nft dotnet node npm miniupnpd
lab_begin pv lab-pairs-vs-hyperdht

echo "== building Release" >&2
dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
natpunch=(dotnet "$repo/src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll")

bench/hyperdht/install.sh "$work/hyperdht"

echo "== lab $prefix" >&2
lab up "$prefix" >&2
server=203.0.113.10:3478
nsx srv timeout 7200 "${natpunch[@]}" server --listen "$server" --alt-address 203.0.113.11 >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do nsx srv ss -Hlnu | grep -q "203.0.113.11:3479" && break; sleep 0.2; done
lab upnp on "$prefix" >&2
# SPREAD=1 (the default): the testnet's nodes on four addresses of the server's namespace.
if [ "${SPREAD:-1}" = 1 ]; then
  srv_dev=$(nsx srv ip -o -4 addr show | awk '/203\.0\.113\.10\// {print $2; exit}')
  for a in 12 13 14; do nsx srv ip addr add "203.0.113.$a/24" dev "$srv_dev"; done
  nsx srv timeout 7200 node "$work/hyperdht/peer.js" bootstrap 203.0.113.10 49737 203.0.113.12,203.0.113.13,203.0.113.14 >"$work/hyperdht-bootstrap.log" 2>&1 &
else
  nsx srv timeout 7200 node "$work/hyperdht/peer.js" bootstrap 203.0.113.10 49737 >"$work/hyperdht-bootstrap.log" 2>&1 &
fi
pids+=($!)
for _ in $(seq 100); do grep -q bootstrap "$work/hyperdht-bootstrap.log" && break; sleep 0.2; done

stamp() { while IFS= read -r line; do printf '%s %s\n' "$EPOCHREALTIME" "$line"; done; }

# natpunch_run SERVER CLIENT TAG: prints "PATH ELAPSED_MS" ("fail -" when connect failed).
natpunch_run() {
  local s=$1 c=$2 tag=$3 id="p$RANDOM$RANDOM"
  local lerr="$work/$tag.listen.log" cerr="$work/$tag.connect.log"
  nsx "$s" timeout 120 "${natpunch[@]}" listen --server "$server" --id "l$id" --json --timeout "$TIMEOUT" </dev/null >/dev/null 2>"$lerr" &
  local lpid=$!
  for _ in $(seq 300); do grep -q '"registered"' "$lerr" 2>/dev/null && break; sleep 0.1; done
  # Input that lasts HOLD seconds, so that a session that starts on the relay can move to a direct
  # path (port probing) before it ends.
  (sleep "$HOLD") | nsx "$c" timeout 120 "${natpunch[@]}" connect --server "$server" --id "c$id" --peer "l$id" --json --timeout "$TIMEOUT" >/dev/null 2>"$cerr" || true
  wait "$lpid" 2>/dev/null || true
  local first direct first_ms
  first=$(grep '"event":"connected"' "$cerr" | head -1 || true)
  if [ -z "$first" ]; then echo "fail -"; return; fi
  first_ms=$(sed -E 's/.*"elapsed_ms":([0-9]+).*/\1/' <<<"$first")
  if grep -q '"path":"direct"' <<<"$first"; then echo "direct $first_ms"; return; fi
  # A later direct path: its elapsed_ms counts from the relayed one.
  direct=$(grep '"event":"connected"' "$cerr" | grep '"path":"direct"' | head -1 || true)
  if [ -n "$direct" ]; then
    echo "relay>direct $((first_ms + $(sed -E 's/.*"elapsed_ms":([0-9]+).*/\1/' <<<"$direct")))"
  else
    echo "relay $first_ms"
  fi
}

# hyperdht_run SERVER CLIENT TAG: prints "ok SECONDS_TO_CONNECT" or "fail -".
hyperdht_run() {
  local s=$1 c=$2 tag=$3 seed bytes=100000
  seed=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  nsx "$s" timeout $((TIMEOUT + 30)) node "$work/hyperdht/peer.js" serve 203.0.113.10:49737 "$seed" "$bytes" \
    >"$work/$tag.hd-serve.out" 2>"$work/$tag.hd-serve.log" &
  local spid=$!
  for _ in $(seq 100); do grep -q listening "$work/$tag.hd-serve.log" 2>/dev/null && break; sleep 0.1; done
  local start=$EPOCHREALTIME
  nsx "$c" timeout "$TIMEOUT" node "$work/hyperdht/peer.js" send 203.0.113.10:49737 "$seed" "$bytes" 2>&1 | stamp >"$work/$tag.hd-send.log" || true
  for _ in $(seq 30); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
  pkill -f "peer.js serve .* $seed" 2>/dev/null || true
  wait "$spid" 2>/dev/null || true
  local connected
  connected=$(awk '/ connected$/ {print $1; exit}' "$work/$tag.hd-send.log")
  if grep -q '"mbit"' "$work/$tag.hd-serve.out" && [ -n "$connected" ]; then
    awk -v a="$start" -v b="$connected" 'BEGIN { printf "ok %.0f\n", (b - a) * 1000 }'
  else
    echo "fail -"
  fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "| server ← client | natpunch direct | natpunch relay | natpunch failed | natpunch ms, median | hyperdht connected | hyperdht ms, median |"
echo "|---|---|---|---|---|---|---|"
IFS=';' read -ra pairs <<<"$PAIRS"
for pair in "${pairs[@]}"; do
  read -r s c <<<"$pair"
  direct=0 relay=0 failed=0 hd_ok=0
  : >"$work/np-ms" ; : >"$work/hd-ms"
  for i in $(seq "$ATTEMPTS"); do
    read -r path ms < <(natpunch_run "$s" "$c" "$s-$c-$i")
    case $path in direct | relay\>direct) direct=$((direct + 1)) ;; relay) relay=$((relay + 1)) ;; *) failed=$((failed + 1)) ;; esac
    [ "$ms" != - ] && echo "$ms" >>"$work/np-ms"
    read -r ok hms < <(hyperdht_run "$s" "$c" "$s-$c-$i")
    if [ "$ok" = ok ]; then hd_ok=$((hd_ok + 1)); echo "$hms" >>"$work/hd-ms"; fi
    echo "   $s <- $c #$i: natpunch $path ${ms} ms, hyperdht $ok ${hms} ms" >&2
  done
  echo "| $s ← $c | $direct/$ATTEMPTS | $relay/$ATTEMPTS | $failed/$ATTEMPTS | $(median <"$work/np-ms") | $hd_ok/$ATTEMPTS | $(median <"$work/hd-ms") |"
done
