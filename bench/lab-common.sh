# Sourced by the lab benchmarks (bench/lab-*.sh): a lab of their own under a fresh prefix, helpers to
# run in its namespaces, cleanup on any exit, the 100 Mbit/s shaping and the median. The caller sets
# `repo` (the checkout) and `KEEP` (a directory for the logs, or empty) and calls lab_begin first.

# lab_begin PREFIX_LETTERS WORK_NAME: picks a prefix no lab uses now (two letters + 4 digits), makes
# $work and arranges that every pid in $pids is stopped and the lab torn down on exit, also on Ctrl-C.
lab_begin() {
  [ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
  while :; do
    prefix=$1$(printf '%04d' $((RANDOM % 10000)))
    ip netns list | grep -q "^$prefix-" || break
  done
  work=$(mktemp -d "/tmp/$2.XXXXXX")
  pids=()
  trap lab_cleanup EXIT
  trap 'exit 130' INT TERM
}

lab_cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
  # down kills anything still running in the lab's namespaces and removes them (and the qdiscs).
  lab down "$prefix" >/dev/null 2>&1
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp -r "$work"/*.log "$KEEP"/ 2>/dev/null; fi
  rm -rf "$work"
}

require_tools() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "'$tool' is not installed" >&2; exit 1; }
  done
}

lab() { bash "$repo/lab/lab.sh" "$@"; }
nsx() { ip netns exec "$prefix-$1" "${@:2}"; }

# shape on|off: tbf RATE on the port router's WAN (upload) and on its bridge port (download).
shape() {
  if [ "$1" = on ]; then
    nsx rport tc qdisc replace dev wan root tbf rate "$RATE" burst 128kb latency 20ms
    nsx inet tc qdisc replace dev rport root tbf rate "$RATE" burst 128kb latency 20ms
  else
    nsx rport tc qdisc del dev wan root 2>/dev/null || true
    nsx inet tc qdisc del dev rport root 2>/dev/null || true
  fi
}

# apply_condition NAME: clean (the lab as built), loss1 (1 % of IPv4 frames dropped on the internet
# bridge), shaped (tbf RATE, see shape), shaped-loss1 (both). Exits on any other name.
apply_condition() {
  case $1 in
    clean) shape off; lab loss 0 "$prefix" >/dev/null ;;
    loss1) shape off; lab loss 1 "$prefix" >/dev/null ;;
    shaped) shape on; lab loss 0 "$prefix" >/dev/null ;;
    shaped-loss1) shape on; lab loss 1 "$prefix" >/dev/null ;;
    *) echo "unknown condition $1" >&2; exit 2 ;;
  esac
}

# The median of the numbers on standard input (words "fail" left out), or "fail" if none.
median() { tr ' ' '\n' | grep -v '^$' | grep -v fail | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "fail"; else print a[int((NR + 1) / 2)] }'; }
