#!/usr/bin/env bash
# Where a natpunch pipe spends its CPU: one transfer on loopback (server, listen, connect; direct UDP),
# `perf record` on the sender and the receiver for SAMPLE_SECONDS in the middle of it, then the share of
# samples per library (libclrjit = the JIT, libsodium = the cipher, "doublemapper" = JIT'd code).
#
# Needs perf and dotnet; builds Release. Traffic stays on 127.0.0.1; everything it starts is stopped.
# Settings: SIZE_MB=300 SAMPLE_SECONDS=4 PORT=39478; extra runtime settings go through the environment
# (for example DOTNET_TieredPGO=0).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${SIZE_MB:-300}
SAMPLE_SECONDS=${SAMPLE_SECONDS:-4}
PORT=${PORT:-39478}
command -v perf >/dev/null || { echo "'perf' is not installed" >&2; exit 1; }

work=$(mktemp -d /tmp/profile-pipe.XXXXXX)
pids=()
cleanup() { set +e; for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT

dotnet build -c Release src/NatPunch.Cli -nologo -v q -clp:ErrorsOnly >&2
dll=src/NatPunch.Cli/bin/Release/net10.0/natpunch.dll
head -c $((SIZE_MB * 1000000)) /dev/urandom > "$work/data"
export DOTNET_PerfMapEnabled=1 XDG_CONFIG_HOME="$work/config"

dotnet "$dll" server --listen "127.0.0.1:$PORT" >/dev/null 2>&1 & pids+=($!)
sleep 2
dotnet "$dll" listen --server "127.0.0.1:$PORT" --id bob --relay never --json </dev/null >/dev/null 2>"$work/listen.log" & listener=$!; pids+=($listener)
sleep 1.5
dotnet "$dll" connect --server "127.0.0.1:$PORT" --id alice --peer bob --relay never --json <"$work/data" >/dev/null 2>"$work/connect.log" & connector=$!; pids+=($connector)
for _ in $(seq 1 100); do grep -q '"connected"' "$work/connect.log" && break; sleep 0.1; done
sleep 1
perf record -F 499 -g -o "$work/send.data" -p "$connector" -- sleep "$SAMPLE_SECONDS" >/dev/null 2>&1 & sampler1=$!
perf record -F 499 -g -o "$work/recv.data" -p "$listener" -- sleep "$SAMPLE_SECONDS" >/dev/null 2>&1 & sampler2=$!
wait "$sampler1" "$sampler2" "$connector" "$listener"
grep -E '"connected"|"closed"|"error"' "$work/connect.log" >&2 || true
for side in send recv; do
  echo "== $side: share of samples per library"
  perf report -i "$work/$side.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8
done
