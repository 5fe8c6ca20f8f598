#!/usr/bin/env bash
# Verify the NAT lab built by lab/lab.sh before trusting any result obtained in it.
#
#   lab/verify.sh [PREFIX]
#
# Starts coturn's turnserver in PREFIX-srv on both server addresses with an alternate port
# (RFC 5780 mode), runs coturn's turnutils_natdiscovery (mapping + filtering discovery)
# from both hosts of every kind at the same time, prints kind -> (mapping, filtering) as
# natdiscovery reports it and compares that with what the kind must be. Then checks the
# rest: the public address each kind is seen from, UDP blocked / TCP allowed through
# udpblock, cgnat reaching the server, host-to-host traffic on every LAN, cone DNAT picking
# the right host when both hosts use the same inside port (clash and port overloading),
# mappings surviving an early inbound probe (hole punching), `loss` and `block-udp`.
# The overloading and early-probe checks need python3 and are skipped, saying so, without.
# Exits 1 on any mismatch. Always stops what it started and resets loss/block-udp.
# VERIFY_KEEP=1 keeps the logs (natdiscovery, turnserver, iperf3) in a /tmp directory.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB="$HERE/lab.sh"
PREFIX=${1:-np}

# What each kind must show (RFC 4787 terms; "none" = natdiscovery's "No NAT!").
declare -A WANT_MAP=([open]=none [full]=EIM [addr]=EIM [port]=EIM [sym]=APDM [udpblock]=blocked [cgnat]=EIM [upnp]=APDM [clash]=EIM [clashb]=EIM [cgclash]=EIM)
declare -A WANT_FILT=([open]=EIF [full]=EIF [addr]=ADF [port]=APDF [sym]=APDF [udpblock]=blocked [cgnat]=APDF [upnp]=APDF [clash]=APDF [clashb]=APDF [cgclash]=APDF)

for tool in turnserver turnutils_natdiscovery iperf3 nft ss; do
    command -v "$tool" >/dev/null || { echo "verify.sh: missing $tool" >&2; exit 2; }
done
[[ $EUID -eq 0 ]] || { echo "verify.sh: needs root" >&2; exit 2; }

declare -A I
while IFS='=' read -r k v; do I[$k]=$v; done < <("$LAB" info "$PREFIX")
ip netns list | grep -qE "^${I[srv_ns]}( |$)" || {
    echo "verify.sh: lab '$PREFIX' is not up (run lab/lab.sh up $PREFIX)" >&2; exit 2; }
read -r -a KINDS <<<"${I[kinds]}"
SRV=${I[srv_ns]} SRV1=${I[srv_ip1]} SRV2=${I[srv_ip2]}

W=$(mktemp -d /tmp/natlab-verify.XXXXXX)
cleanup() {
    # Our own background jobs only (turnserver, iperf3 servers, natdiscovery runs).
    local p pids; pids=$(jobs -p)
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    for p in $pids; do wait "$p" 2>/dev/null || true; done
    "$LAB" loss 0 "$PREFIX" >/dev/null 2>&1 || true
    "$LAB" block-udp port off "$PREFIX" >/dev/null 2>&1 || true
    "$LAB" block-udp open off "$PREFIX" >/dev/null 2>&1 || true
    if [[ -n ${VERIFY_KEEP:-} ]]; then echo "verify.sh: logs kept in $W"; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILS=0
check() { # NAME OK(0/1) DETAIL
    if [[ $2 == 0 ]]; then printf '  ok    %s %s\n' "$1" "${3:-}"
    else printf '  FAIL  %s %s\n' "$1" "${3:-}"; FAILS=$((FAILS + 1)); fi
}
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }
listening() { # NS PROTO(u|t) IP:PORT
    nsx "$1" ss -Hln"$2" | awk '{print $4}' | grep -qx "$3"
}
wait_listen() { # NS PROTO IP:PORT PID
    local i
    for i in $(seq 50); do
        listening "$1" "$2" "$3" && return 0
        kill -0 "$4" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# ---- the RFC 5780 server -----------------------------------------------------------------
for a in "$SRV1:3478" "$SRV2:3479"; do
    listening "$SRV" u "$a" && { echo "verify.sh: something already listens on $a in $SRV" >&2; exit 2; }
done
ip netns exec "$SRV" turnserver -n --no-auth --no-tls --no-dtls --no-cli \
    --listening-ip "$SRV1" --listening-ip "$SRV2" \
    --listening-port 3478 --alt-listening-port 3479 \
    --log-file stdout --simple-log >"$W/turnserver.log" 2>&1 &
TURN_PID=$!
if ! wait_listen "$SRV" u "$SRV2:3479" "$TURN_PID"; then
    echo "verify.sh: turnserver did not start:" >&2; tail -20 "$W/turnserver.log" >&2; exit 1
fi
echo "turnserver (pid $TURN_PID) on $SRV1 and $SRV2, ports 3478 and 3479 (RFC 5780)"

# ---- natdiscovery ------------------------------------------------------------------------
# -L: bind the host's own address so natdiscovery can tell "No NAT!" apart. It exits 0
# even when nothing answers; its words tell what it found.
natdiscovery() { # OUT NS LOCAL_IP [natdiscovery options...]
    local out=$1 n=$2 ip=$3; shift 3
    ip netns exec "$n" timeout 60 turnutils_natdiscovery "$@" -L "$ip" "$SRV1" >"$out" 2>&1 || true
}
natdiscovery_bg() { # same, in the background; the job's pid is natdiscovery's (timeout's)
    local out=$1 n=$2 ip=$3; shift 3
    ip netns exec "$n" timeout 60 turnutils_natdiscovery "$@" -L "$ip" "$SRV1" >"$out" 2>&1 &
    nd_pids+=($!)
}
section() { # FILE m|f: the mapping or filtering part of natdiscovery's output
    if [[ $2 == m ]]; then sed -n '/Mapping Behavior Discovery/,/Filtering Behavior Discovery/p' "$1"
    else sed -n '/Filtering Behavior Discovery/,$p' "$1"; fi
}
mapping_of() {
    local s; s=$(section "$1" m)
    case $s in
        *"No NAT!"*) echo none ;;
        *"Address and Port Dependent Mapping"*) echo APDM ;;
        *"Address Dependent Mapping"*) echo ADM ;;
        *"Endpoint Independent Mapping"*) echo EIM ;;
        *"receive timeout"*) echo blocked ;;
        *) echo "?" ;;
    esac
}
filtering_of() {
    local s; s=$(section "$1" f)
    case $s in
        *"Address and Port Dependent Filtering"*) echo APDF ;;
        *"Address Dependent Filtering"*) echo ADF ;;
        *"Endpoint Independent Filtering"*) echo EIF ;;
        *"receive timeout"*) echo blocked ;;
        *) echo "?" ;;
    esac
}
reflexive_of() { # FILE [m|f] -> ip:port of the first mapped address, or -
    section "$1" "${2:-m}" | awk '/UDP reflexive addr:/ {print $NF; exit}' | grep . || echo -
}

echo
echo "Running turnutils_natdiscovery -m -f from both hosts of every kind, all at once..."
nd_pids=()
for k in "${KINDS[@]}"; do
    for j in 1 2; do
        natdiscovery_bg "$W/nd-$k$j.out" "${I[host_$k${j}_ns]}" "${I[host_$k${j}_ip]}" -m -f
    done
done
for p in "${nd_pids[@]}"; do wait "$p" || true; done

echo
TABLE="$W/table"
{
    printf '%-9s %-10s %-8s %-10s %-20s %-16s %s\n' kind host mapping filtering mapped_as expected result
    for k in "${KINDS[@]}"; do
        for j in 1 2; do
            f="$W/nd-$k$j.out"
            m=$(mapping_of "$f") fl=$(filtering_of "$f") refl=$(reflexive_of "$f")
            want="${WANT_MAP[$k]}/${WANT_FILT[$k]}"
            # the address the server saw must be the kind's public one
            if [[ $k == open ]]; then pub=${I[public_open${j}_ip]}; else pub=${I[public_${k}_ip]}; fi
            res=ok
            [[ "$m/$fl" == "$want" ]] || res=MISMATCH
            [[ $refl == - || ${refl%:*} == "$pub" ]] || res="WRONG-ADDRESS(want $pub)"
            [[ $res == ok ]] || FAILS=$((FAILS + 1))
            printf '%-9s %-10s %-8s %-10s %-20s %-16s %s\n' "$k" "$k$j" "$m" "$fl" "$refl" "$want" "$res"
        done
    done
} >"$TABLE"
echo "natdiscovery verdicts (none = \"No NAT!\", blocked = no STUN response):"
cat "$TABLE"
if ((FAILS > 0)); then
    for f in "$W"/nd-*.out; do echo "---- $f"; cat "$f"; done >"$W/nd-all.log"
    echo "(natdiscovery output of mismatching runs follows)"
    while read -r k h rest; do
        [[ $rest == *ok ]] || { echo "---- $h"; cat "$W/nd-$h.out"; }
    done < <(tail -n +2 "$TABLE")
fi

# ---- further checks ----------------------------------------------------------------------
echo
echo "Further checks:"

tcp_connect() { # NS IP PORT
    nsx "$1" timeout 5 bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null
}

# udpblock: UDP must be blocked (seen above), TCP must pass (NATed) to the server.
for j in 1 2; do
    h=${I[host_udpblock${j}_ns]}
    r=0; tcp_connect "$h" "$SRV1" 3478 || r=1
    check "udpblock$j: TCP to $SRV1:3478 passes" $r
    r=1; [[ $(mapping_of "$W/nd-udpblock$j.out") == blocked ]] && r=0
    check "udpblock$j: UDP to $SRV1:3478 gets no answer" $r
done

# cgnat: through two NATs to the server, over UDP (seen above) and TCP.
for j in 1 2; do
    h=${I[host_cgnat${j}_ns]}
    refl=$(reflexive_of "$W/nd-cgnat$j.out")
    r=1; [[ ${refl%:*} == "${I[cgn_wan_ip]}" ]] && r=0
    check "cgnat$j: UDP reaches the server, seen as ${I[cgn_wan_ip]}" $r "(mapped as $refl)"
    r=0; tcp_connect "$h" "$SRV1" 3478 || r=1
    check "cgnat$j: TCP to $SRV1:3478 passes" $r
done

# The two hosts of each LAN reach each other directly, TCP and UDP (iperf3).
iperf_server() { # NS IP -> pid in IPERF_PID
    ip netns exec "$1" iperf3 -s -B "$2" -p 5201 >"$W/iperf-s-$1.log" 2>&1 &
    IPERF_PID=$!
    wait_listen "$1" t "$2:5201" "$IPERF_PID"
}
udp_lost() { # iperf3 client output -> "lost/total" of the receiver line
    awk '/receiver/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\/[0-9]+$/) print $i}'
}
for k in "${KINDS[@]}"; do
    h1=${I[host_${k}1_ns]} h2=${I[host_${k}2_ns]} ip2=${I[host_${k}2_ip]}
    if ! iperf_server "$h2" "$ip2"; then check "$k: iperf3 server on $k""2" 1; continue; fi
    r=0; nsx "$h1" timeout 15 iperf3 -c "$ip2" -p 5201 -n 256K --connect-timeout 3000 >"$W/iperf-$k-tcp.log" 2>&1 || r=1
    check "$k: host 1 -> host 2 ($ip2) on the LAN, TCP" $r
    r=0; nsx "$h1" timeout 15 iperf3 -c "$ip2" -p 5201 -u -b 2M -l 500 -t 1 --connect-timeout 3000 >"$W/iperf-$k-udp.log" 2>&1 || r=1
    lt=$(udp_lost <"$W/iperf-$k-udp.log"); [[ $lt == 0/* ]] || r=1
    check "$k: host 1 -> host 2 ($ip2) on the LAN, UDP" $r "(lost/total ${lt:-?})"
    kill "$IPERF_PID" 2>/dev/null || true; wait "$IPERF_PID" 2>/dev/null || true
done

# Cone DNAT must pick the right host when both hosts use the same inside port: host 1 then
# host 2 send from inside port 40000 to the same server, so host 2's mapping clashes and
# masquerade gives it another outside port; unsolicited packets must still reach host 2.
for k in full addr; do
    for j in 1 2; do
        natdiscovery "$W/clash-$k$j.out" "${I[host_$k${j}_ns]}" "${I[host_$k${j}_ip]}" -f -l 40000
    done
    for j in 1 2; do
        fl=$(filtering_of "$W/clash-$k$j.out") refl=$(reflexive_of "$W/clash-$k$j.out" f)
        r=1; [[ $fl == "${WANT_FILT[$k]}" ]] && r=0
        check "$k$j: inside port 40000 on both hosts, filtering still ${WANT_FILT[$k]}" $r "(got $fl, mapped as $refl)"
    done
done

# The next checks need sockets bound to chosen ports: python3.
cat >"$W/udp.py" <<'EOF'
# udp.py BIND_IP BIND_PORT WAIT [DST_IP:DST_PORT...]: from one socket, send one datagram to
# each DST (0.3 s apart), print "sent", then print "IP:PORT" of every datagram received
# within WAIT seconds.
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
for i, d in enumerate(sys.argv[4:]):
    if i: time.sleep(0.3)
    ip, port = d.rsplit(':', 1)
    s.sendto(b'natlab', (ip, int(port)))
print('sent', flush=True)
end = time.time() + float(sys.argv[3])
while time.time() < end:
    s.settimeout(max(0.01, end - time.time()))
    try:
        print('%s:%d' % s.recvfrom(100)[1], flush=True)
    except OSError:
        pass
EOF
udp_bg() { # OUT NS BIND_IP BIND_PORT WAIT [DST...]: udp.py in the background; UDP_PID
    local out=$1 n=$2; shift 2
    ip netns exec "$n" python3 "$W/udp.py" "$@" >"$out" 2>&1 &
    UDP_PID=$!
    local i; for i in $(seq 50); do grep -qs sent "$out" && return 0; sleep 0.1; done
}
heard() { grep -v sent "$1" | sort -u | paste -sd, - | sed 's/^$/nothing/'; }

if command -v python3 >/dev/null; then
    # Port overloading: host 1 sends from inside port 41000 to server address 1, host 2
    # from 41000 to server address 2. No clash, so both are given outside port 41000; then
    # unsolicited packets arrive from fresh ports of both server addresses. Full cone: both
    # go to the last sender (host 2); address-restricted: each to the host that contacted
    # that address.
    for k in full addr; do
        pub=${I[public_${k}_ip]}
        udp_bg "$W/ov-s1.out" "$SRV" "$SRV1" 7101 3; p1=$UDP_PID
        udp_bg "$W/ov-s2.out" "$SRV" "$SRV2" 7102 3; p2=$UDP_PID
        udp_bg "$W/ov-h1.out" "${I[host_${k}1_ns]}" 0.0.0.0 41000 3 "$SRV1:7101"; p3=$UDP_PID
        sleep 0.3
        udp_bg "$W/ov-h2.out" "${I[host_${k}2_ns]}" 0.0.0.0 41000 3 "$SRV2:7102"; p4=$UDP_PID
        sleep 0.3
        ip netns exec "$SRV" python3 "$W/udp.py" "$SRV1" 7103 0 "$pub:41000" >/dev/null
        ip netns exec "$SRV" python3 "$W/udp.py" "$SRV2" 7104 0 "$pub:41000" >/dev/null
        for p in $p1 $p2 $p3 $p4; do wait "$p" || true; done
        s1=$(heard "$W/ov-s1.out") s2=$(heard "$W/ov-s2.out") h1=$(heard "$W/ov-h1.out") h2=$(heard "$W/ov-h2.out")
        r=1; [[ $s1 == "$pub:41000" && $s2 == "$pub:41000" ]] && r=0
        check "$k: both hosts mapped to outside port 41000" $r "(server saw $s1 and $s2)"
        if [[ $k == full ]]; then want1=nothing want2="$SRV1:7103,$SRV2:7104"
        else want1="$SRV1:7103" want2="$SRV2:7104"; fi
        r=1; [[ $h1 == "$want1" && $h2 == "$want2" ]] && r=0
        check "$k: unsolicited packets to :41000 reach the right host" $r "(host 1 got $h1, host 2 got $h2)"
    done

    # Hole punching: a peer's packet that reaches the NAT before the host's first packet to
    # that peer must not change the host's mapping (the routers drop it before conntrack
    # keeps an entry that the host's flow would then clash with).
    n=0
    for k in full addr port cgnat; do
        n=$((n + 1)) port=$((42000 + n)) sport=$((7200 + n))
        pub=${I[public_${k}_ip]}
        udp_bg "$W/probe-$k.out" "$SRV" "$SRV1" "$sport" 3 "$pub:$port"; p1=$UDP_PID
        sleep 0.2
        ip netns exec "${I[host_${k}1_ns]}" python3 "$W/udp.py" 0.0.0.0 "$port" 0 "$SRV1:$sport" >/dev/null
        wait "$p1" || true
        seen=$(heard "$W/probe-$k.out")
        r=1; [[ $seen == "$pub:$port" ]] && r=0
        check "$k: early inbound probe to $pub:$port, then host 1 sends from :$port" $r "(server saw $seen)"
    done
else
    echo "  skip  port-overloading and early-probe checks: python3 not found"
fi

# loss: 10% of IPv4 frames on the internet bridge. open1 sends 2000 datagrams (bash's
# /dev/udp) to the server, where an nft counter sees what arrives.
"$LAB" loss 10 "$PREFIX" >/dev/null
nsx "$SRV" nft -f - <<'EOF'
table inet losscount {
    chain input {
        type filter hook input priority filter - 10; policy accept;
        udp dport 9000 counter drop
    }
}
EOF
nsx "${I[host_open1_ns]}" bash -c "for i in \$(seq 2000); do echo x >/dev/udp/$SRV1/9000; done" 2>/dev/null || true
sleep 0.2
got=$(nsx "$SRV" nft list table inet losscount | awk '{for (i = 1; i < NF; i++) if ($i == "packets") print $(i + 1)}')
nsx "$SRV" nft delete table inet losscount
pct=$(( (2000 - ${got:-0}) * 100 / 2000 ))
r=1; ((pct >= 7 && pct <= 13)) && r=0
check "loss 10: open1 -> server, $((2000 - ${got:-0})) of 2000 datagrams lost" $r "($pct%)"
"$LAB" loss 0 "$PREFIX" >/dev/null
r=1; nsx "${I[inet_ns]}" nft list tables | grep -q 'bridge loss' || r=0
check "loss 0 removes the rule" $r

# block-udp: on stops UDP (TCP still passes), off brings it back.
for k in port open; do
    h=${I[host_${k}1_ns]} ip=${I[host_${k}1_ip]}
    "$LAB" block-udp "$k" on "$PREFIX" >/dev/null
    natdiscovery "$W/block-$k-on.out" "$h" "$ip" -m
    r=1; [[ $(mapping_of "$W/block-$k-on.out") == blocked ]] && r=0
    check "block-udp $k on: no UDP answer" $r
    r=0; tcp_connect "$h" "$SRV1" 3478 || r=1
    check "block-udp $k on: TCP still passes" $r
    "$LAB" block-udp "$k" off "$PREFIX" >/dev/null
    natdiscovery "$W/block-$k-off.out" "$h" "$ip" -m
    m=$(mapping_of "$W/block-$k-off.out")
    r=1; [[ $m == "${WANT_MAP[$k]}" ]] && r=0
    check "block-udp $k off: UDP answers again" $r "(mapping $m)"
done

# clash: an unsolicited packet to the router leaves a conntrack entry (the router takes it for
# itself), and the host's later packet to that sender clashes with it and leaves from another port.
# A port-restricted router that drops WAN input (port) keeps the host's port.
clash_port() { # KIND PEER_KIND -> the outside port of host 1's packet from inside port 40100, after PEER's unsolicited one
    local k=$1 p=$2 pub peer
    pub=${I[public_${k}_ip]} peer=${I[public_${p}_ip]}
    nsx "${I[host_${p}1_ns]}" python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 40100)); s.sendto(b'x', ('$pub', 40100))"
    sleep 0.2
    nsx "${I[host_${k}1_ns]}" python3 -c "import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', 40100)); s.sendto(b'x', ('$peer', 40100))"
    sleep 0.2
    nsx "${I[router_${k}_ns]}" cat /proc/net/nf_conntrack \
        | awk -v peer="$peer" '/src=10\.[0-9]+\.0\.2 / && $0 ~ "dst=" peer " sport=40100 dport=40100" {for (i = 1; i <= NF; i++) if ($i ~ /^dport=/) p = $i; print substr(p, 7); exit}'
}
if command -v python3 >/dev/null; then
    got=$(clash_port clash clashb)
    r=1; [[ -n $got && $got != 40100 ]] && r=0
    check "clash: after clashb's unsolicited packet, host 1's packet to it leaves from another port" $r "(outside port ${got:-?})"
    got=$(clash_port port clashb)
    r=1; [[ $got == 40100 ]] && r=0
    check "port: after clashb's unsolicited packet, host 1's packet to it keeps its port" $r "(outside port ${got:-?})"
fi

echo
if ((FAILS > 0)); then echo "verify: $FAILS check(s) FAILED"; exit 1; fi
echo "verify: all checks passed"
