#!/usr/bin/env bash
# Installs npm `hyperdht` (the version bench/hyperdht/package.json pins) and peer.js into DIR, for the
# benchmarks that compare natpunch with hyperdht. Usage: bench/hyperdht/install.sh DIR
set -euo pipefail
dir=$1
here=$(dirname "$0")
echo "== npm install hyperdht" >&2
mkdir -p "$dir" && cp "$here/package.json" "$here/peer.js" "$dir/"
(cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
