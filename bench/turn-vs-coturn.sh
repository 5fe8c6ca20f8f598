#!/usr/bin/env bash
# TURN relay throughput: our server against coturn, on this machine, over loopback only.
#
# Builds Release, starts `turnutils_peer` (the UDP echo peer), our `natpunch server` and coturn's
# `turnserver` with the same long-term credentials and --allow-loopback-peers on different loopback
# ports, and runs the SAME `turnutils_uclient` load against each (UDP, and TCP between client and
# server), alternating ours/coturn for ROUNDS rounds. Every message goes client -> server -> relay
# -> peer, is echoed, and comes back peer -> relay -> server -> client. Prints, per transport, the
# median messages/s (messages received back / wall time of the uclient run), loss, and server CPU
# (utime+stime from /proc/PID/stat over the run) in seconds and per relayed message, and the ratio
# ours/coturn. Everything is started under `timeout` and killed by a trap at the end.
#
# Settings (environment variables):
#   ROUNDS=3 CLIENTS=10 MESSAGES=2000 LENGTH=500 INTERVAL_MS=0 TRANSPORTS="udp tcp"
#   OURS_PORT=34880 COTURN_PORT=34890 PEER_PORT=34900 RUN_TIMEOUT=60
#   UCLIENT_EXTRA=   more turnutils_uclient flags for both (e.g. "-s" for Send indications)
#   NO_BUILD=1       use the existing Release build
#   NATPUNCH_DLL=    run this natpunch.dll instead (e.g. another commit's build); implies NO_BUILD
#   KEEP_DIR=        keep every uclient output in this directory
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-10}
MESSAGES=${MESSAGES:-2000}
LENGTH=${LENGTH:-500}
INTERVAL_MS=${INTERVAL_MS:-0}
TRANSPORTS=${TRANSPORTS:-udp tcp}
OURS_PORT=${OURS_PORT:-34880}
COTURN_PORT=${COTURN_PORT:-34890}
PEER_PORT=${PEER_PORT:-34900}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
UCLIENT_EXTRA=${UCLIENT_EXTRA:-}
HOST=127.0.0.1
REALM=natpunch-bench
TURN_USER=alice
TURN_PASSWORD=wonderland

for tool in turnserver turnutils_uclient turnutils_peer; do
  command -v "$tool" >/dev/null || { echo "$tool (Debian package coturn) is not installed" >&2; exit 1; }
done

work=$(mktemp -d)
KEEP_DIR=${KEEP_DIR:-$work}
mkdir -p "$KEEP_DIR"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

NATPUNCH_DLL=${NATPUNCH_DLL:-}
if [ -z "${NO_BUILD:-}" ] && [ -z "$NATPUNCH_DLL" ]; then
  echo "== building Release" >&2
  dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
fi
natpunch=(dotnet "${NATPUNCH_DLL:-src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll}")

n_transports=$(wc -w <<<"$TRANSPORTS")
# Upper bound on the whole measurement: everything stops by itself after it.
budget=$(( ROUNDS * n_transports * 2 * (RUN_TIMEOUT + 2) + 60 ))

echo "== peer on $HOST:$PEER_PORT, ours on $HOST:$OURS_PORT, coturn on $HOST:$COTURN_PORT (all stop after ${budget}s at most)" >&2
timeout "$budget" turnutils_peer -L "$HOST" -p "$PEER_PORT" >"$work/peer.log" 2>&1 &
pids+=($!)

timeout "$budget" "${natpunch[@]}" server --listen "$HOST:$OURS_PORT" --realm "$REALM" \
  --turn-user "$TURN_USER:$TURN_PASSWORD" --allow-loopback-peers --min-port 40000 --max-port 44999 \
  >"$work/ours.log" 2>&1 &
pids+=($!)

# coturn with the same credentials and peer policy; no TLS/DTLS/CLI, quiet. Default threads
# (one relay thread per CPU).
timeout "$budget" turnserver -n --lt-cred-mech --realm "$REALM" --user "$TURN_USER:$TURN_PASSWORD" \
  --listening-ip "$HOST" --listening-port "$COTURN_PORT" --relay-ip "$HOST" --min-port 45000 --max-port 49999 \
  --allow-loopback-peers --no-tls --no-dtls --no-cli --no-stdout-log --simple-log --log-file /dev/null \
  --pidfile "$work/turnserver.pid" >"$work/coturn.log" 2>&1 &
pids+=($!)

uclient() { # port, transport flag(s)..., extra args
  local port=$1; shift
  # shellcheck disable=SC2086 # UCLIENT_EXTRA is a list of flags
  timeout "$RUN_TIMEOUT" turnutils_uclient "$@" $UCLIENT_EXTRA -c -z "$INTERVAL_MS" -m "$CLIENTS" -n "$MESSAGES" -l "$LENGTH" \
    -u "$TURN_USER" -w "$TURN_PASSWORD" -e "$HOST" -r "$PEER_PORT" -p "$port" "$HOST"
}

# Ready when one short uclient run gets its messages back.
wait_ready() {
  local port=$1
  for _ in $(seq 20); do
    if CLIENTS=1 MESSAGES=2 RUN_TIMEOUT=5 uclient "$port" 2>&1 | grep -q 'tot_recv_msgs=2$'; then
      return 0
    fi
    sleep 0.5
  done
  echo "TURN server on port $port does not relay" >&2
  cat "$work"/*.log >&2
  return 1
}
wait_ready "$OURS_PORT"
wait_ready "$COTURN_PORT"

ours_pid=$(pgrep -P "${pids[1]}" | head -1 || true)
coturn_pid=$(pgrep -P "${pids[2]}" | head -1 || true)
[ -n "$ours_pid" ] && [ -n "$coturn_pid" ] || { echo "server process not found" >&2; exit 1; }
thread_names() { cat /proc/"$1"/task/*/comm 2>/dev/null | sort | uniq -c | sed -E 's/^ *([0-9]+) (.*)$/\2 x\1/' | paste -sd, -; }
echo "== machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), .NET SDK $(dotnet --version), $(turnserver --version 2>/dev/null | head -1 || echo coturn)" >&2
echo "== our threads:    $(thread_names "$ours_pid")" >&2
echo "== coturn threads: $(thread_names "$coturn_pid")" >&2

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }

# One run: the uclient load against one server. Records "sent received lost seconds cpu_s" in
# $KEEP_DIR/NAME-TRANSPORT-ROUND.res.
run() {
  local name=$1 port=$2 pid=$3 transport=$4 round=$5
  local out="$KEEP_DIR/$name-$transport-$round" flags=() before after t0 t1 sent recv lost secs cpu
  [ "$transport" = tcp ] && flags=(-t)
  before=$(cpu_ticks "$pid")
  t0=$(now)
  uclient "$port" "${flags[@]}" >"$out.log" 2>&1 || true
  t1=$(now)
  after=$(cpu_ticks "$pid")
  # The summary line: "start_mclient: tot_send_msgs=N, tot_recv_msgs=M" (the last one printed).
  sent=$(grep -oE 'start_mclient: tot_send_msgs=[0-9]+' "$out.log" | tail -1 | grep -oE '[0-9]+$' || echo 0)
  recv=$(grep -oE 'start_mclient: tot_send_msgs=[0-9]+, tot_recv_msgs=[0-9]+' "$out.log" | tail -1 | grep -oE '[0-9]+$' || echo 0)
  lost=$(( sent - recv ))
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  cpu=$(awk -v t=$(( after - before )) -v hz="$ticks_per_second" 'BEGIN { printf "%.2f", t / hz }')
  echo "$sent $recv $lost $secs $cpu" >"$out.res"
  awk -v n="$name" -v tr="$transport" -v r="$round" -v s="$sent" -v m="$recv" -v l="$lost" -v t="$secs" -v c="$cpu" 'BEGIN {
    printf "   %-6s %s round %d: %8.0f msgs/s  sent %d received %d lost %d (%.2f%%)  %.2f s  server CPU %.2f s (%.1f us/msg)\n",
      n, tr, r, (t > 0 ? m / t : 0), s, m, l, (s > 0 ? 100 * l / s : 0), t, c, (m > 0 ? c * 1e6 / m : 0) }' >&2
}

# One unmeasured run (full size: tiered JIT needs it) per server and transport first, so that JIT (ours) and first-use
# costs are not in round 1.
for transport in $TRANSPORTS; do
  flags=()
  [ "$transport" = tcp ] && flags=(-t)
  for port in "$OURS_PORT" "$COTURN_PORT"; do
    uclient "$port" "${flags[@]}" >/dev/null 2>&1 || true
  done
done

echo "== $ROUNDS rounds per transport, each ours then coturn: turnutils_uclient -c -z $INTERVAL_MS -m $CLIENTS -n $MESSAGES -l $LENGTH $UCLIENT_EXTRA" >&2
for round in $(seq "$ROUNDS"); do
  for transport in $TRANSPORTS; do
    run ours "$OURS_PORT" "$ours_pid" "$transport" "$round"
    run coturn "$COTURN_PORT" "$coturn_pid" "$transport" "$round"
  done
done

col() { # name transport awk-expression over $1=sent $2=recv $3=lost $4=secs $5=cpu
  cat "$KEEP_DIR/$1-$2"-*.res | awk "{ print $3 }" | median
}
echo
echo "median of $ROUNDS runs: turnutils_uclient -c -z $INTERVAL_MS -m $CLIENTS -n $MESSAGES -l $LENGTH $UCLIENT_EXTRA [-t]"
printf '%-4s %-7s %10s %8s %8s %10s %11s\n' tr server msgs/s lost loss% cpu_s cpu_us/msg
for transport in $TRANSPORTS; do
  for name in ours coturn; do
    rate=$(col "$name" "$transport" '($4 > 0 ? $2 / $4 : 0)')
    lost=$(col "$name" "$transport" '$3')
    loss=$(col "$name" "$transport" '($1 > 0 ? 100 * $3 / $1 : 0)')
    cpu=$(col "$name" "$transport" '$5')
    per=$(col "$name" "$transport" '($2 > 0 ? $5 * 1e6 / $2 : 0)')
    printf '%-4s %-7s %10.0f %8s %8.3f %10.2f %11.2f\n' "$transport" "$name" "$rate" "$lost" "$loss" "$cpu" "$per"
    eval "${name}_rate=$rate ${name}_per=$per"
  done
  # shellcheck disable=SC2154 # set through eval above
  awk -v t="$transport" -v o="$ours_rate" -v c="$coturn_rate" -v op="$ours_per" -v cp="$coturn_per" \
    'BEGIN { printf "%-4s ratio ours/coturn: msgs/s %.2f, CPU per message %.2f\n", t, (c > 0 ? o / c : 0), (cp > 0 ? op / cp : 0) }'
done
