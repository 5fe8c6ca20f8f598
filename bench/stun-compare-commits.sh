#!/usr/bin/env bash
# STUN Binding throughput of our server at several commits, side by side, over loopback only.
#
#   bench/stun-compare-commits.sh COMMIT... [coturn]
#
# Builds each commit's server (Release) into a temporary directory, starts them all on 127.0.0.1
# (and coturn, if "coturn" is named), then measures them in turn, round after round, with the
# load generator of the working tree, so that every build sees the same generator and the same
# machine conditions. Prints the median responses/s and server CPU per response of each.
# This is how the history table in docs/benchmarks.md was measured.
#
# Settings: ROUNDS=5 SECONDS_PER_RUN=5 WARMUP=1 CLIENTS=4 WINDOW=16 FIRST_PORT=34800
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-5}
WARMUP=${WARMUP:-1}
CLIENTS=${CLIENTS:-4}
WINDOW=${WINDOW:-16}
FIRST_PORT=${FIRST_PORT:-34800}
HOST=127.0.0.1
[ $# -gt 0 ] || { echo "usage: $0 COMMIT... [coturn]" >&2; exit 2; }

work=$(mktemp -d)
server_pids=()
cleanup() {
  for pid in "${server_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${server_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

dll=src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll
echo "== building the working tree's load generator and each commit's server" >&2
dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
names=()
for target in "$@"; do
  if [ "$target" = coturn ]; then names+=(coturn); continue; fi
  commit=$(git rev-parse --short "$target")
  mkdir -p "$work/$commit"
  git archive "$commit" | tar -x -C "$work/$commit"
  (cd "$work/$commit" && dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2)
  names+=("$commit")
done

budget=$(( ROUNDS * ${#names[@]} * (WARMUP + SECONDS_PER_RUN + 5) + 120 ))
declare -A port pid
i=0
for name in "${names[@]}"; do
  port[$name]=$(( FIRST_PORT + 2 * i )); i=$(( i + 1 ))
  if [ "$name" = coturn ]; then
    timeout "$budget" turnserver -n --no-auth --stun-only --listening-ip "$HOST" --listening-port "${port[$name]}" \
      --relay-ip "$HOST" --no-tls --no-dtls --no-cli --no-rfc5780 --no-software-attribute \
      --no-stun-backward-compatibility --response-origin-only-with-rfc5780 \
      --no-stdout-log --simple-log --log-file /dev/null --pidfile "$work/turnserver.pid" >/dev/null 2>&1 &
  else
    timeout "$budget" dotnet "$work/$name/$dll" server --listen "$HOST:${port[$name]}" >"$work/$name.log" 2>&1 &
  fi
  server_pids+=($!)
  pid[$name]=$!
done
sleep 3

field() { sed -E "s/.*\"$2\":([0-9.]+).*/\1/" "$1"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
hz=$(getconf CLK_TCK)

for round in $(seq "$ROUNDS"); do
  for name in "${names[@]}"; do
    server=$(pgrep -P "${pid[$name]}" | head -1)
    out="$work/$name-$round.json"
    before=$(cpu_ticks "$server")
    dotnet "$dll" bench stun --server "$HOST:${port[$name]}" --seconds "$SECONDS_PER_RUN" --warmup "$WARMUP" \
      --clients "$CLIENTS" --window "$WINDOW" --json >"$out"
    after=$(cpu_ticks "$server")
    awk -v t=$(( after - before )) -v hz="$hz" -v r="$(field "$out" responses)" \
      'BEGIN { printf "%.2f\n", (r > 0 ? t / hz * 1e6 / r : 0) }' >"$work/$name-$round.cpu"
    printf '   %-8s round %d: %10.0f responses/s  server CPU %s us/response\n' "$name" "$round" \
      "$(field "$out" responses_per_second)" "$(cat "$work/$name-$round.cpu")" >&2
  done
done

echo
echo "median of $ROUNDS rounds ($CLIENTS clients x $WINDOW outstanding, ${SECONDS_PER_RUN}s each)"
printf '%-8s %12s %12s\n' build responses/s cpu_us/resp
for name in "${names[@]}"; do
  printf '%-8s %12.0f %12s\n' "$name" \
    "$(for f in "$work/$name"-*.json; do field "$f" responses_per_second; done | median)" \
    "$(cat "$work/$name"-*.cpu | median)"
done
