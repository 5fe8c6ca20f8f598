#!/usr/bin/env bash
# One natpunch pipe on loopback (server, listen, connect; direct UDP), for quick A/B runs of the data
# path: prints goodput (connector's "connected" to "closed"), each process's CPU per GB (start-up
# included) and the sender's transfer figures from its "closed" event. Runtime settings pass through
# the environment, for example: DOTNET_TieredPGO=0 bench/loopback-pipe.sh
# Needs dotnet, python3, /usr/bin/time; builds Release unless NO_BUILD=1. Settings: SIZE_MB=200
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-200}
[ "${NO_BUILD:-}" = 1 ] || dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
dll=$PWD/src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll
work=$(mktemp -d /tmp/loopback-pipe.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
export XDG_CONFIG_HOME=$work/config
head -c $((SIZE_MB * 1000000)) /dev/urandom >"$work/data"
port=$((20000 + RANDOM % 20000))
dotnet "$dll" server --listen "127.0.0.1:$port" >/dev/null 2>&1 & pids+=($!)
sleep 1.5
/usr/bin/time -f "%U %S" -o "$work/l.cpu" dotnet "$dll" listen --server "127.0.0.1:$port" --id "l$port" --relay never --json \
  </dev/null >/dev/null 2>"$work/l.log" & listener=$!; pids+=($listener)
for _ in $(seq 100); do grep -q '"registered"' "$work/l.log" 2>/dev/null && break; sleep 0.1; done
/usr/bin/time -f "%U %S" -o "$work/c.cpu" dotnet "$dll" connect --server "127.0.0.1:$port" --id "c$port" --peer "l$port" --relay never --json \
  <"$work/data" >/dev/null 2> >(python3 -u -c 'import sys, time
for line in sys.stdin: print(time.time(), line, end="")' >"$work/c.log")
wait "$listener"
sleep 0.2
python3 - "$work" "$SIZE_MB" <<'PY'
import json, sys
work, mb = sys.argv[1], int(sys.argv[2])
at, closed = {}, None
for line in open(f"{work}/c.log"):
    stamp, _, rest = line.partition(" ")
    if rest.startswith("{"):
        event = json.loads(rest)
        at[event["event"]] = float(stamp)
        if event["event"] == "closed":
            closed = event
def cpu(name):
    user, system = map(float, open(f"{work}/{name}.cpu").read().split()[-2:])
    return (user + system) / (mb / 1000)
if closed is None or "connected" not in at:
    sys.exit("the transfer did not complete: " + open(f"{work}/c.log").read())
print(f"{mb * 8 / (at['closed'] - at['connected']):.0f} Mbit/s; CPU s/GB sender {cpu('c'):.1f}, receiver {cpu('l'):.1f}; "
      f"retransmitted {closed.get('bytes_retransmitted')} bytes, {closed.get('congestion_events')} congestion events, srtt {closed.get('srtt_ms')} ms")
PY
