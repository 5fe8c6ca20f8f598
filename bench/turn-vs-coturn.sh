#!/usr/bin/env bash
# TURN relay throughput: our server against coturn, on this machine, over loopback only.
#
# Builds Release, starts `turnutils_peer` (the UDP echo peer), our `natpunch server` and coturn's
# `turnserver` with the same long-term credentials and --allow-loopback-peers on different loopback
# ports, and runs the SAME `turnutils_uclient` load against each (UDP, and TCP between client and
# server), alternating ours/coturn for ROUNDS rounds. Every message goes client -> server -> relay
# -> peer, is echoed, and comes back peer -> relay -> server -> client.
#
# Server-bound on a small machine: both servers run on SERVER_CPU, the load (uclient and the peer)
# on LOAD_CPU, and each server is held to the same CPU_QUOTA percent of one core (a cpu cgroup;
# needs root). Without the quota the load generator is the bottleneck (it costs about three times
# what a server costs per message), and msgs/s says nothing about the servers. coturn runs one
# relay thread (-m 1); ours, on one CPU, runs one UDP loop and one relay poller thread.
#
# Prints, per transport, medians over the rounds of: messages/s delivered (the median of uclient's
# per-second counts of messages received back, over the seconds in which it was sending), loss
# (sent - received over the run), server CPU (utime+stime from /proc/PID/stat over the run) in
# seconds and per relayed message, and the ratios ours/coturn. Everything is started under `timeout`
# and killed by a trap at the end, the cgroups removed.
#
# Settings (environment variables):
#   ROUNDS=3 CLIENTS=50 MESSAGES=4000 LENGTH=500 INTERVAL_MS=0 TRANSPORTS="udp tcp"
#   CPU_QUOTA=25     percent of one core for each server (0: no cgroup, no quota)
#   SERVER_CPU=0 LOAD_CPU=1   taskset CPU lists (empty: no pinning)
#   COTURN_THREADS=1 coturn's --relay-threads
#   OURS_PORT=34880 COTURN_PORT=34890 PEER_PORT=34900 RUN_TIMEOUT=90
#   UCLIENT_EXTRA=   more turnutils_uclient flags for both (e.g. "-s" for Send indications)
#   NO_BUILD=1       use the existing Release build
#   NATPUNCH_DLL=    run this natpunch.dll instead (e.g. another commit's build); implies NO_BUILD
#   KEEP_DIR=        keep every uclient output, and our server's log (its counters when it stops), in this directory
#   SAME_SCHEDULE=1  both servers' runs of round N get the same uclient start schedule (seed N, through the
#                    LD_PRELOAD shim bench/c/fixed-seed.c; needs gcc), so that their wall times compare;
#                    0: uclient's own clock-seeded schedule, different every run
#
# Wall time: uclient starts each client at a random moment 1-6 s after setup, and a run lasts until
# the last client is done (10 s more when a message was lost). Only with SAME_SCHEDULE=1 do the two
# servers' wall times measure the servers; the issue's load, `CLIENTS=10 MESSAGES=5000 CPU_QUOTA=0`,
# is decided by it.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-50}
MESSAGES=${MESSAGES:-4000}
LENGTH=${LENGTH:-500}
INTERVAL_MS=${INTERVAL_MS:-0}
TRANSPORTS=${TRANSPORTS:-udp tcp}
CPU_QUOTA=${CPU_QUOTA:-25}
SERVER_CPU=${SERVER_CPU-0}
LOAD_CPU=${LOAD_CPU-1}
COTURN_THREADS=${COTURN_THREADS:-1}
OURS_PORT=${OURS_PORT:-34880}
COTURN_PORT=${COTURN_PORT:-34890}
PEER_PORT=${PEER_PORT:-34900}
RUN_TIMEOUT=${RUN_TIMEOUT:-90}
UCLIENT_EXTRA=${UCLIENT_EXTRA:-}
SAME_SCHEDULE=${SAME_SCHEDULE:-1}
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
cgroups=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  for group in "${cgroups[@]}"; do
    for _ in $(seq 20); do rmdir "$group" 2>/dev/null && break; sleep 0.2; done
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

preload=()
if [ "$SAME_SCHEDULE" = 1 ]; then
  command -v gcc >/dev/null || { echo "SAME_SCHEDULE=1 needs gcc (or set SAME_SCHEDULE=0)" >&2; exit 1; }
  gcc -O2 -shared -fPIC -o "$work/fixed-seed.so" bench/c/fixed-seed.c -ldl
  preload=(env LD_PRELOAD="$work/fixed-seed.so")
fi

n_transports=$(wc -w <<<"$TRANSPORTS")
# Upper bound on the whole measurement: everything stops by itself after it.
budget=$(( ROUNDS * n_transports * 2 * (RUN_TIMEOUT + 2) + 60 ))

echo "== peer on $HOST:$PEER_PORT, ours on $HOST:$OURS_PORT, coturn on $HOST:$COTURN_PORT (all stop after ${budget}s at most)" >&2
on() { # cpu-list command...: the command pinned to the CPUs, or as is (exec: in the background, $! is the command)
  local cpus=$1; shift
  if [ -n "$cpus" ]; then exec taskset -c "$cpus" "$@"; else exec "$@"; fi
}

on "$LOAD_CPU" timeout "$budget" turnutils_peer -L "$HOST" -p "$PEER_PORT" >"$work/peer.log" 2>&1 &
pids+=($!)

on "$SERVER_CPU" timeout "$budget" "${natpunch[@]}" server --listen "$HOST:$OURS_PORT" --realm "$REALM" \
  --turn-user "$TURN_USER:$TURN_PASSWORD" --allow-loopback-peers --min-port 40000 --max-port 44999 \
  --max-bps 0 --max-bps-per-user 0 --max-bps-per-ip 0 --user-quota 0 --allocations-per-ip 0 \
  >"$KEEP_DIR/ours.log" 2>&1 &
pids+=($!)

# (Ours without its per-allocation bandwidth and quota defaults: coturn has none by default.)
# coturn with the same credentials and peer policy; no TLS/DTLS/CLI, quiet, COTURN_THREADS relay threads.
on "$SERVER_CPU" timeout "$budget" turnserver -n --relay-threads "$COTURN_THREADS" --lt-cred-mech --realm "$REALM" --user "$TURN_USER:$TURN_PASSWORD" \
  --listening-ip "$HOST" --listening-port "$COTURN_PORT" --relay-ip "$HOST" --min-port 45000 --max-port 49999 \
  --allow-loopback-peers --no-tls --no-dtls --no-cli --no-stdout-log --simple-log --log-file /dev/null \
  --pidfile "$work/turnserver.pid" >"$work/coturn.log" 2>&1 &
pids+=($!)

uclient() { # port, transport flag(s)..., extra args
  local port=$1; shift
  # shellcheck disable=SC2086 # UCLIENT_EXTRA is a list of flags
  ( on "$LOAD_CPU" "${preload[@]}" timeout "$RUN_TIMEOUT" turnutils_uclient "$@" $UCLIENT_EXTRA -c -z "$INTERVAL_MS" -m "$CLIENTS" -n "$MESSAGES" -l "$LENGTH" \
    -u "$TURN_USER" -w "$TURN_PASSWORD" -e "$HOST" -r "$PEER_PORT" -p "$port" "$HOST" )
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
  cat "$work"/*.log "$KEEP_DIR/ours.log" >&2
  return 1
}
wait_ready "$OURS_PORT"
wait_ready "$COTURN_PORT"

ours_pid=$(pgrep -P "${pids[1]}" | head -1 || true)
coturn_pid=$(pgrep -P "${pids[2]}" | head -1 || true)
[ -n "$ours_pid" ] && [ -n "$coturn_pid" ] || { echo "server process not found" >&2; exit 1; }
# The same CPU quota for each server: a cpu cgroup of its own (cgroup v1 "cpu", or v2).
limit_cpu() { # name pid
  local group
  if [ -d /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
    group=/sys/fs/cgroup/cpu/natpunch-bench-$1
    mkdir -p "$group" && cgroups+=("$group")
    echo 10000 >"$group/cpu.cfs_period_us"
    echo $(( CPU_QUOTA * 100 )) >"$group/cpu.cfs_quota_us"
  elif [ -f /sys/fs/cgroup/cgroup.controllers ] && grep -qw cpu /sys/fs/cgroup/cgroup.controllers; then
    group=/sys/fs/cgroup/natpunch-bench-$1
    mkdir -p "$group" && cgroups+=("$group")
    echo "$(( CPU_QUOTA * 100 )) 10000" >"$group/cpu.max"
  else
    echo "no cpu cgroup controller to apply CPU_QUOTA=$CPU_QUOTA (set CPU_QUOTA=0 to run without)" >&2
    return 1
  fi
  echo "$2" >"$group/cgroup.procs"
}
if [ "$CPU_QUOTA" -gt 0 ]; then
  limit_cpu ours "$ours_pid"
  limit_cpu coturn "$coturn_pid"
fi

thread_names() { cat /proc/"$1"/task/*/comm 2>/dev/null | sort | uniq -c | sed -E 's/^ *([0-9]+) (.*)$/\2 x\1/' | paste -sd, -; }
echo "== machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), .NET SDK $(dotnet --version), $(turnserver --version 2>/dev/null | head -1 || echo coturn)" >&2
echo "== servers on CPU ${SERVER_CPU:-any} with ${CPU_QUOTA}% of a core each (0: no quota), load on CPU ${LOAD_CPU:-any}" >&2
echo "== our threads:    $(thread_names "$ours_pid")" >&2
echo "== coturn threads: $(thread_names "$coturn_pid")" >&2

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }

# One run: the uclient load against one server. Records "sent received lost seconds cpu_s rate"
# in $KEEP_DIR/NAME-TRANSPORT-ROUND.res; rate is the median of the per-second counts of messages
# received, over the seconds in which uclient sent during the whole second (its lines
# "N: : start_mclient: msz=..., tot_send_msgs=S, tot_recv_msgs=R, ..." come once a second).
run() {
  local name=$1 port=$2 pid=$3 transport=$4 round=$5
  local out="$KEEP_DIR/$name-$transport-$round" flags=() before after t0 t1 sent recv lost secs cpu rate
  [ "$transport" = tcp ] && flags=(-t)
  before=$(cpu_ticks "$pid")
  t0=$(now)
  FIXED_SEED=$round uclient "$port" "${flags[@]}" >"$out.log" 2>&1 || true
  t1=$(now)
  after=$(cpu_ticks "$pid")
  # The summary line: "start_mclient: tot_send_msgs=N, tot_recv_msgs=M" (the last one printed).
  sent=$(grep -oE 'start_mclient: tot_send_msgs=[0-9]+' "$out.log" | tail -1 | grep -oE '[0-9]+$' || echo 0)
  recv=$(grep -oE 'start_mclient: tot_send_msgs=[0-9]+, tot_recv_msgs=[0-9]+' "$out.log" | tail -1 | grep -oE '[0-9]+$' || echo 0)
  lost=$(( sent - recv ))
  rate=$(awk '/start_mclient: msz=/ {
      s = $0; sub(/.*tot_send_msgs=/, "", s); r = $0; sub(/.*tot_recv_msgs=/, "", r)
      n++; t[n] = $1 + 0; S[n] = s + 0; R[n] = r + 0 }
    END { for (i = 2; i < n; i++) if (t[i] - t[i-1] == 1 && S[i] > S[i-1] && S[i+1] > S[i]) print R[i] - R[i-1] }' "$out.log" | median)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  cpu=$(awk -v t=$(( after - before )) -v hz="$ticks_per_second" 'BEGIN { printf "%.2f", t / hz }')
  echo "$sent $recv $lost $secs $cpu ${rate:-0}" >"$out.res"
  awk -v n="$name" -v tr="$transport" -v r="$round" -v s="$sent" -v m="$recv" -v l="$lost" -v t="$secs" -v c="$cpu" -v q="${rate:-0}" 'BEGIN {
    printf "   %-6s %s round %d: %8.0f msgs/s  sent %d received %d lost %d (%.2f%%)  %.2f s  server CPU %.2f s (%.1f us/msg)\n",
      n, tr, r, q, s, m, l, (s > 0 ? 100 * l / s : 0), t, c, (m > 0 ? c * 1e6 / m : 0) }' >&2
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

col() { # name transport awk-expression over $1=sent $2=recv $3=lost $4=secs $5=cpu $6=rate
  cat "$KEEP_DIR/$1-$2"-*.res | awk "{ print $3 }" | median
}
echo
echo "median of $ROUNDS runs: turnutils_uclient -c -z $INTERVAL_MS -m $CLIENTS -n $MESSAGES -l $LENGTH $UCLIENT_EXTRA [-t]; servers on CPU ${SERVER_CPU:-any} with ${CPU_QUOTA}% of a core (0: unlimited), load on CPU ${LOAD_CPU:-any}"
printf '%-4s %-7s %10s %8s %8s %10s %11s %8s %10s\n' tr server msgs/s lost loss% cpu_s cpu_us/msg wall_s lossy_runs
for transport in $TRANSPORTS; do
  for name in ours coturn; do
    rate=$(col "$name" "$transport" '$6')
    lost=$(col "$name" "$transport" '$3')
    loss=$(col "$name" "$transport" '($1 > 0 ? 100 * $3 / $1 : 0)')
    cpu=$(col "$name" "$transport" '$5')
    per=$(col "$name" "$transport" '($2 > 0 ? $5 * 1e6 / $2 : 0)')
    wall=$(col "$name" "$transport" '$4')
    lossy=$(cat "$KEEP_DIR/$name-$transport"-*.res | awk '$3 > 0 { n++ } END { print n + 0 }')
    printf '%-4s %-7s %10.0f %8s %8.3f %10.2f %11.2f %8.3f %10s\n' "$transport" "$name" "$rate" "$lost" "$loss" "$cpu" "$per" "$wall" "$lossy/$ROUNDS"
    eval "${name}_rate=$rate ${name}_per=$per ${name}_loss=$loss ${name}_wall=$wall"
  done
  # shellcheck disable=SC2154 # set through eval above
  awk -v t="$transport" -v o="$ours_rate" -v c="$coturn_rate" -v op="$ours_per" -v cp="$coturn_per" -v ol="$ours_loss" -v cl="$coturn_loss" \
    -v ow="$ours_wall" -v cw="$coturn_wall" \
    'BEGIN { printf "%-4s ratio ours/coturn: msgs/s %.2f, CPU per message %.2f, wall time %.3f; loss %.3f%% vs %.3f%%\n", t, (c > 0 ? o / c : 0), (cp > 0 ? op / cp : 0), (cw > 0 ? ow / cw : 0), ol, cl }'
  if [ "$SAME_SCHEDULE" = 1 ]; then
    # Round by round (same schedule), over the rounds where neither lost a message (a loss adds uclient's 10 s wait).
    paired=$(for round in $(seq "$ROUNDS"); do
        read -r _ _ ol os _ _ <"$KEEP_DIR/ours-$transport-$round.res"
        read -r _ _ cl cs _ _ <"$KEEP_DIR/coturn-$transport-$round.res"
        [ "$ol" = 0 ] && [ "$cl" = 0 ] && awk -v o="$os" -v c="$cs" 'BEGIN { printf "%.4f\n", o / c }'
      done || true)
    n=$(grep -c . <<<"$paired" || true)
    echo "$transport wall time ours/coturn, same schedule, median over the $n rounds where neither lost: $(median <<<"$paired") (each: $(paste -sd' ' <<<"$paired"))"
  fi
done
