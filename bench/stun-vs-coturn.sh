#!/usr/bin/env bash
# STUN Binding throughput: our server against coturn, on this machine, over loopback only.
#
# Builds Release, starts both servers on 127.0.0.1, measures each with the same load generator
# (`natpunch bench stun`) and the same parameters, alternating ours/coturn for ROUNDS rounds, and
# prints the median of each and the ratio ours/coturn. Both servers are stopped at the end, also on
# failure or Ctrl-C, and each runs under `timeout` so that nothing outlives a broken script.
#
# Settings (environment variables):
#   ROUNDS=5 SECONDS_PER_RUN=10 WARMUP=2 CLIENTS=4 WINDOW=16
#   OURS_PORT=34780 COTURN_PORT=34790 MIN_PORT=34800
#
# Then the same servers against two plain generators in C (bench/c/stun-closed-loop.c: one
# thread, one system call per request and per answer, no batching): a busy client (4 sockets x 64
# outstanding) and many clients (400 sockets with one request each), also against a minimal
# recvmmsg/sendmmsg responder in C (bench/c/stun-min-responder.c), the yardstick of what the
# machine allows. Needs gcc.
#   COTURN_THREADS=   coturn's -m (relay/UDP threads); empty = coturn's default, one per CPU
#   JSON_DIR=         keep every run's JSON result in this directory
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
WARMUP=${WARMUP:-2}
# Four client sockets: coturn spreads clients over its per-thread SO_REUSEPORT sockets by a hash of
# the 4-tuple, and with only two clients both would share one coturn thread half of the time.
CLIENTS=${CLIENTS:-4}
WINDOW=${WINDOW:-16}
OURS_PORT=${OURS_PORT:-34780}
COTURN_PORT=${COTURN_PORT:-34790}
MIN_PORT=${MIN_PORT:-34800}
COTURN_THREADS=${COTURN_THREADS:-}
HOST=127.0.0.1

command -v turnserver >/dev/null || { echo "turnserver (Debian package coturn) is not installed" >&2; exit 1; }

work=$(mktemp -d)
JSON_DIR=${JSON_DIR:-$work}
mkdir -p "$JSON_DIR"
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${server_pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building Release" >&2
dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
natpunch=(dotnet src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll)

# Upper bound on the whole measurement: the servers stop by themselves after it.
budget=$(( ROUNDS * 2 * (WARMUP + SECONDS_PER_RUN + 5) + ROUNDS * 6 * (SECONDS_PER_RUN + 3) + 60 ))

echo "== starting our server on $HOST:$OURS_PORT and coturn on $HOST:$COTURN_PORT (each stops after ${budget}s at most)" >&2
timeout "$budget" "${natpunch[@]}" server --listen "$HOST:$OURS_PORT" >"$work/ours.log" 2>&1 &
server_pids+=($!)

# coturn as a plain STUN server doing the same work as ours: no TURN (--stun-only), no auth, no
# TLS/DTLS/CLI, no RFC 5780 (we have no alternate address either), and an answer of exactly
# XOR-MAPPED-ADDRESS like ours (no SOFTWARE, no MAPPED-ADDRESS, no RESPONSE-ORIGIN). Logging quiet.
coturn_args=(-n --no-auth --stun-only --listening-ip "$HOST" --listening-port "$COTURN_PORT"
  --relay-ip "$HOST" --no-tls --no-dtls --no-cli --no-rfc5780 --no-software-attribute
  --no-stun-backward-compatibility --response-origin-only-with-rfc5780
  --no-stdout-log --simple-log --log-file /dev/null --pidfile "$work/turnserver.pid")
if [ -n "$COTURN_THREADS" ]; then
  coturn_args+=(-m "$COTURN_THREADS")
fi
timeout "$budget" turnserver "${coturn_args[@]}" >"$work/coturn.log" 2>&1 &
server_pids+=($!)

# Ready when a short bench gets answers (exit 0), for at most ~10 s each.
wait_ready() {
  local port=$1
  for _ in $(seq 20); do
    if "${natpunch[@]}" bench stun --server "$HOST:$port" --seconds 0.2 --warmup 0 --clients 1 --window 1 >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.5
  done
  echo "server on port $port did not answer" >&2
  cat "$work"/*.log >&2
  return 1
}
wait_ready "$OURS_PORT"
wait_ready "$COTURN_PORT"

# The server processes themselves (children of `timeout`), for CPU time and thread names.
ours_pid=$(pgrep -P "${server_pids[0]}" | head -1 || true)
coturn_pid=$(pgrep -P "${server_pids[1]}" | head -1 || true)
[ -n "$ours_pid" ] && [ -n "$coturn_pid" ] || { echo "server process not found" >&2; exit 1; }
# Fairness: how many threads each one answers UDP with (coturn: one per CPU unless -m; ours: one
# per core and socket, up to 4; the rest of our threads are the .NET runtime's, idle here).
thread_names() { cat /proc/"$1"/task/*/comm 2>/dev/null | sort | uniq -c | sed -E 's/^ *([0-9]+) (.*)$/\2 x\1/' | paste -sd, -; }
echo "== machine: $(nproc) CPUs, .NET SDK $(dotnet --version), $(turnserver --version 2>/dev/null | head -1 || echo coturn)" >&2
echo "== our threads:    $(thread_names "$ours_pid")" >&2
echo "== coturn threads: $(thread_names "$coturn_pid")" >&2

field() { sed -E "s/.*\"$2\":([0-9.]+).*/\1/" "$1"; }
# CPU time (user + system, in clock ticks) a process has used so far.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# One measurement. Besides the generator's JSON it records the server's CPU time over the whole
# run (warm-up and drain included) per measured response: approximate, but not skewed by what
# else runs on the machine the way responses/s are.
bench() {
  local name=$1 port=$2 pid=$3 round=$4
  local out="$JSON_DIR/$name-$round.json" before after cpu_us
  before=$(cpu_ticks "$pid")
  "${natpunch[@]}" bench stun --server "$HOST:$port" --seconds "$SECONDS_PER_RUN" --warmup "$WARMUP" \
    --clients "$CLIENTS" --window "$WINDOW" --json >"$out"
  after=$(cpu_ticks "$pid")
  cpu_us=$(awk -v t=$(( after - before )) -v hz="$ticks_per_second" -v r="$(field "$out" responses)" \
    'BEGIN { printf "%.2f", (r > 0 ? t / hz * 1e6 / r : 0) }')
  echo "$cpu_us" >"$JSON_DIR/$name-$round.cpu"
  printf '   %-6s round %d: %10.0f responses/s  loss %s%%  p50 %s us  p99 %s us  server CPU %s us/response\n' "$name" "$round" \
    "$(field "$out" responses_per_second)" "$(field "$out" loss_percent)" \
    "$(field "$out" latency_p50_us)" "$(field "$out" latency_p99_us)" "$cpu_us" >&2
}

echo "== $ROUNDS rounds, each: ours then coturn; ${WARMUP}s warm-up + ${SECONDS_PER_RUN}s measured, $CLIENTS clients x $WINDOW outstanding" >&2
for round in $(seq "$ROUNDS"); do
  bench ours "$OURS_PORT" "$ours_pid" "$round"
  bench coturn "$COTURN_PORT" "$coturn_pid" "$round"
done

summary() {
  local name=$1
  local rate loss p50 p99 cpu
  rate=$(for f in "$JSON_DIR/$name"-*.json; do field "$f" responses_per_second; done | median)
  cpu=$(cat "$JSON_DIR/$name"-*.cpu | median)
  loss=$(for f in "$JSON_DIR/$name"-*.json; do field "$f" loss_percent; done | median)
  p50=$(for f in "$JSON_DIR/$name"-*.json; do field "$f" latency_p50_us; done | median)
  p99=$(for f in "$JSON_DIR/$name"-*.json; do field "$f" latency_p99_us; done | median)
  printf '%-7s %12.0f %8s %9s %9s %12s\n' "$name" "$rate" "$loss" "$p50" "$p99" "$cpu"
  eval "${name}_rate=$rate"
}
echo
echo "median of $ROUNDS runs ($CLIENTS clients x $WINDOW outstanding, ${SECONDS_PER_RUN}s each)"
printf '%-7s %12s %8s %9s %9s %12s\n' server responses/s loss% p50_us p99_us cpu_us/resp
summary ours
summary coturn
# shellcheck disable=SC2154 # set by summary through eval
awk -v o="$ours_rate" -v c="$coturn_rate" 'BEGIN { printf "ratio ours/coturn: %.3f\n", (c > 0 ? o / c : 0) }'

# ---- plain generators --------------------------------------------------------------------------
command -v gcc >/dev/null || { echo "gcc is not installed: no plain-generator comparison" >&2; exit 0; }
gcc -O2 -o "$work/closed-loop" bench/c/stun-closed-loop.c
gcc -O2 -o "$work/min-responder" bench/c/stun-min-responder.c
timeout "$budget" "$work/min-responder" "$HOST" "$MIN_PORT" &
server_pids+=($!)
sleep 0.5
plain() { # NAME PORT SOCKETS WINDOW ROUND
  "$work/closed-loop" "$HOST" "$2" "$3" "$4" "$SECONDS_PER_RUN" | field /dev/stdin answers_per_second >"$JSON_DIR/plain-$1-$3x$4-$5.rate"
  printf '   %-6s %3d x %-2d round %d: %10.0f answers/s\n' "$1" "$3" "$4" "$5" "$(cat "$JSON_DIR/plain-$1-$3x$4-$5.rate")" >&2
}
echo >&2
echo "== plain closed-loop generators: a busy client (4 sockets x 64) and many clients (400 x 1), $ROUNDS rounds" >&2
for shape in "4 64" "400 1"; do
  set -- $shape
  for round in $(seq "$ROUNDS"); do
    for name in ours coturn min; do
      port_var="${name^^}_PORT"
      plain "$name" "${!port_var}" "$1" "$2" "$round"
    done
  done
done
echo
echo "plain generators, median of $ROUNDS runs (answers/s)"
printf '%-10s %12s %12s %12s %14s %12s\n' shape ours coturn minimal ours/coturn ours/minimal
for shape in 4x64 400x1; do
  o=$(cat "$JSON_DIR"/plain-ours-$shape-*.rate | median)
  c=$(cat "$JSON_DIR"/plain-coturn-$shape-*.rate | median)
  m=$(cat "$JSON_DIR"/plain-min-$shape-*.rate | median)
  awk -v s=$shape -v o="$o" -v c="$c" -v m="$m" 'BEGIN { printf "%-10s %12.0f %12.0f %12.0f %14.2f %12.2f\n", s, o, c, m, o / c, o / m }'
done
