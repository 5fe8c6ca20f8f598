#!/usr/bin/env bash
# NatPunch NAT lab: Linux network namespaces joined by a fake "internet" bridge, with one
# kernel NAT (nftables) per RFC 4787 behaviour. See docs/lab.md for the topology and why
# each rule set gives its behaviour.
#
#   lab/lab.sh up [PREFIX]                 build the lab (tears down any old one first)
#   lab/lab.sh down [PREFIX]               remove every namespace of the lab
#   lab/lab.sh exec NS -- CMD...           run CMD in namespace NS (np-port1 or just port1)
#   lab/lab.sh loss PERCENT [PREFIX]       random loss of IPv4 frames on the internet bridge
#   lab/lab.sh block-udp KIND on|off [PREFIX]   drop all UDP at KIND's router
#   lab/lab.sh lockdown KIND 443|proxy|off [PREFIX]   let out only TCP 443, or nothing (a proxy on the router)
#   lab/lab.sh upnp on|off [PREFIX]        start (once the lab's STUN server runs) or stop miniupnpd on the upnp router
#   lab/lab.sh info [PREFIX]               print addresses as key=value lines
#
# Kinds clash, clashb and cgclash are NATs that accept unsolicited packets to themselves (no
# input drop), each behind an ISP router (a hop between it and the internet bridge): see
# docs/lab.md, "NATs that clash".
#
# Everything lives inside namespaces named PREFIX-*: veths are created directly in their
# namespaces, so nothing ever appears in the root namespace, and deleting the namespaces
# removes every interface. Addresses: 203.0.113.0/24 (TEST-NET-3) is the internet,
# 10.N.0.0/24 the home LANs, 100.64.0.0/24 (shared address space) the carrier network.
set -euo pipefail

PREFIX=np
KINDS=(open full addr port sym udpblock cgnat upnp clash clashb cgclash)
SRV_IP1=203.0.113.10
SRV_IP2=203.0.113.11
# How long a cone mapping accepts unsolicited inbound packets after the last outbound
# packet; the same as Linux's conntrack timeout for an assured UDP flow.
CONE_TIMEOUT=120s
# Disjoint ephemeral port ranges for the two hosts of a LAN (see docs/lab.md, "two hosts").
HOST1_PORTS="32768 46999"
HOST2_PORTS="47000 60999"

die() { echo "lab.sh: $*" >&2; exit 2; }

set_prefix() {
    PREFIX=${1:-np}
    [[ $PREFIX =~ ^[a-z][a-z0-9]{0,7}$ ]] || die "PREFIX must be 1-8 lowercase letters/digits: '$PREFIX'"
}

ns() { echo "$PREFIX-$1"; }
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }

# ---- addressing (also used by `info`) ---------------------------------------------------
kind_index() {
    case $1 in
        full) echo 1 ;; addr) echo 2 ;; port) echo 3 ;; sym) echo 4 ;;
        udpblock) echo 5 ;; cgnat) echo 6 ;; upnp) echo 7 ;;
        clash) echo 8 ;; clashb) echo 9 ;; cgclash) echo 10 ;; *) return 1 ;;
    esac
}
# Kinds whose NAT sits behind an ISP router (one more hop), on a /30 of 198.51.100.0/24 (TEST-NET-2).
behind_isp() { [[ $1 == clash || $1 == clashb || $1 == cgclash ]]; }
# Kinds whose (carrier) NAT is a separate namespace in front of the home router.
carrier_ns() { case $1 in cgnat) ns cgn ;; cgclash) ns cgc ;; *) return 1 ;; esac; }
isp_net() { echo "198.51.100.$((4 * $(kind_index "$1")))"; }          # the /30 between ISP and NAT
isp_down_ip() { echo "198.51.100.$((4 * $(kind_index "$1") + 1))"; }  # the ISP router's side
isp_up_ip() { echo "203.0.113.$((50 + $(kind_index "$1")))"; }        # the ISP router on the internet
# WAN address of KIND's router on the internet (for cgnat and cgclash: the carrier NAT's).
inet_ip() {
    if behind_isp "$1"; then echo "198.51.100.$((4 * $(kind_index "$1") + 2))"
    else echo "203.0.113.$((30 + $(kind_index "$1")))"; fi
}
lan_ip() { echo "10.$(kind_index "$1").0.$2"; }   # .1 router, .2 host 1, .3 host 2
open_ip() { echo "203.0.113.$((20 + $1))"; }
CGN_LAN_IP=100.64.0.1
HOME_WAN_IP=100.64.0.2

# ---- building blocks --------------------------------------------------------------------
mkns() { # NAME [router]: a namespace with lo up, no IPv6 (keeps the bridges quiet)
    local n=$1
    ip netns add "$n"
    nsx "$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    # With br_netfilter loaded, bridged frames would also pass the IP hooks (and a router's
    # forward chain would see LAN-to-LAN traffic); a switch must not do that.
    nsx "$n" sh -c 'f=/proc/sys/net/bridge/bridge-nf-call-iptables; [ ! -w $f ] || echo 0 > $f'
    # Forwarding only in routers.
    nsx "$n" sysctl -qw net.ipv4.ip_forward="$([[ ${2:-} == router ]] && echo 1 || echo 0)"
    ip -n "$n" link set lo up
}

veth() { # NS1 IF1 NS2 IF2: a veth pair created directly inside the two namespaces
    ip -n "$1" link add "$2" type veth peer name "$4" netns "$3"
    ip -n "$1" link set "$2" up
    ip -n "$3" link set "$4" up
}

bridge() { # NS NAME
    ip -n "$1" link add "$2" type bridge
    ip -n "$1" link set "$2" up
}

on_inet() { # NS IF PORT IP...: plug NS's interface IF into the internet bridge as PORT
    local n=$1 ifc=$2 port=$3; shift 3
    veth "$n" "$ifc" "$(ns inet)" "$port"
    ip -n "$(ns inet)" link set "$port" master br0
    local a; for a in "$@"; do ip -n "$n" addr add "$a/24" dev "$ifc"; done
}

add_host() { # KIND J ROUTER_NS: host J (1 or 2) on the router's LAN bridge
    local k=$1 j=$2 r=$3 h; h=$(ns "$k$j")
    mkns "$h"
    veth "$h" eth0 "$r" "h$j"
    ip -n "$r" link set "h$j" master lan
    ip -n "$h" addr add "$(lan_ip "$k" $((j + 1)))/24" dev eth0
    ip -n "$h" route add default via "$(lan_ip "$k" 1)"
    set_port_range "$h" "$j"
}

set_port_range() { # NS J
    local r; [[ $2 == 1 ]] && r=$HOST1_PORTS || r=$HOST2_PORTS
    nsx "$1" sysctl -qw net.ipv4.ip_local_port_range="$r"
}

# ---- nftables per NAT kind ---------------------------------------------------------------
# Every router has interfaces "wan" and "lan". The common part:
#  * postrouting: masquerade on wan. Linux keeps the source port when the translated
#    5-tuple is still unique, so the same inside ip:port gets the same outside port
#    whatever the destination: endpoint-independent mapping (EIM) in practice.
#  * forward: lan->wan always; wan->lan only for conntrack established/related flows
#    (plus $2, e.g. flows DNAT'ed by a cone rule).
#  * input: unsolicited packets to the router itself are dropped in the filter hook, that is
#    before conntrack confirms them. Otherwise an unsolicited probe from peer P to wan:X
#    would leave a conntrack entry P->wan:X behind, and the host's later outbound packet to
#    P would clash with it and be given another port (breaking EIM during hole punching).
# $1: masquerade statement, $2: extra forward rules, $3: extra chains/maps, $4: prerouting,
# $5: extra input rules (before the drop), $6: "open" for no drop at all (the clash kinds).
nft_router() {
    local wan_drop='        iifname "wan" drop'
    [[ ${6:-} == open ]] && wan_drop='        # no drop: unsolicited packets reach the router itself (and leave conntrack entries)'

    cat <<EOF
table ip natlab {
$3
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
$4
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        oifname "wan" $1
    }
    chain input {
        type filter hook input priority filter; policy accept;
        iifname "wan" ct state established,related accept
${5:-}
$wan_drop
    }
    chain forward {
        type filter hook forward priority filter; policy drop;
$2
        ct state established,related accept
        iifname "lan" oifname "wan" accept
    }
}
EOF
}

load_nft() { nsx "$1" nft -f -; }

# port-restricted cone: EIM + address-and-port-dependent filtering (APDF). Only conntrack
# replies come in, and a conntrack entry is one exact remote ip:port.
rules_port() { nft_router "masquerade" "" "" "" | load_nft "$1"; }

# port-restricted cone as above, but a router that accepts packets to itself from the WAN: an
# unsolicited packet from peer P to wan:X reaches the router (a closed port: ICMP port unreachable)
# and leaves a conntrack entry P -> wan:X, so that a host's later packet from inside port X to P
# clashes with it and goes out from another, random port. Cloud NAT instances, servers doing
# masquerade and some cheap routers are like this.
rules_clash() { nft_router "masquerade" "" "" "" "" open | load_nft "$1"; }
rules_clashb() { rules_clash "$1"; }

# symmetric: every new 5-tuple gets a random outside port (APDM), filtering as above.
rules_sym() { nft_router "masquerade fully-random" "" "" "" | load_nft "$1"; }

# symmetric, with a UPnP-IGD / NAT-PMP / PCP gateway (miniupnpd, started by `lab.sh upnp on`): the
# NAT as sym, plus what miniupnpd needs. Its port mappings are DNAT rules in its own table (inet
# filter, the chains it expects); what they DNAT may pass the forward chain. Only LAN traffic is
# masqueraded: the router's own STUN requests (miniupnpd learns its external address and that
# nothing filters it with RFC 5780 tests, ext_perform_stun) keep their ports, and the server's
# answers from its other address and port may come in.
rules_upnp() {
    nft_router "ip saddr $(lan_ip upnp 0)/24 masquerade fully-random" \
        '        iifname "wan" oifname "lan" ct status dnat accept' "" "" \
        "        iifname \"wan\" ip saddr { $SRV_IP1, $SRV_IP2 } udp sport { 3478, 3479 } accept" | load_nft "$1"
    load_nft "$1" <<'EOF'
table inet filter {
    chain forward {
        type filter hook forward priority filter; policy accept;
        jump miniupnpd
    }
    chain miniupnpd {
    }
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        jump prerouting_miniupnpd
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        jump postrouting_miniupnpd
    }
    chain prerouting_miniupnpd {
    }
    chain postrouting_miniupnpd {
    }
}
EOF
}

# UDP-blocking firewall: UDP from the LAN never leaves; TCP as port-restricted.
rules_udpblock() {
    nft_router "masquerade" '        iifname "lan" oifname "wan" meta l4proto udp drop' "" "" |
        load_nft "$1"
}

# Cone filtering means DNAT'ing unsolicited inbound UDP to the inside ip:port that owns the
# outside port. That is learned from every outbound UDP packet in a postrouting chain placed
# after masquerade (priority 300 > srcnat), where "udp sport" is already the outside port:
#  * per LAN host j, a set own_j of the outside ports it owns (full cone) or of
#    (outside port . remote address) pairs it has sent to (address-restricted). A packet of
#    host j also deletes the key from the other hosts' sets, so a port that changes hands
#    (two hosts using the same inside port towards different peers) goes to the last
#    sender, never to a stale owner. Sets, not one map, because a map's data cannot be
#    replaced or deleted from the packet path, and a set's element can.
#  * per host, a map port_j: outside port -> inside port, for the DNAT target port (it is
#    the same port unless masquerade had to pick another one because of a clash).
# Flows created by such a DNAT send their outbound packets in the conntrack "reply"
# direction, hence the second rule per host: they keep the entries alive too.
# Entries live CONE_TIMEOUT after the host's last outbound packet on them.
rules_cone() { # ROUTER_NS KIND SETTYPE OUTKEY INKEY
    local r=$1 k=$2 settype=$3 outkey=$4 inkey=$5
    local maps="" learn="" pre="" j h others o dir
    for j in 1 2; do
        h=$(lan_ip "$k" $((j + 1)))
        maps+="    set own$j { type $settype; flags dynamic,timeout; timeout $CONE_TIMEOUT; }
    map port$j { type inet_service : inet_service; flags dynamic,timeout; timeout $CONE_TIMEOUT; }
"
        others=""
        for o in 1 2; do [[ $o == "$j" ]] || others+=" delete @own$o { $outkey }"; done
        for dir in original reply; do
            learn+="        oifname \"wan\" meta l4proto udp ct direction $dir ct $dir ip saddr $h update @own$j { $outkey }$others update @port$j { udp sport : ct $dir proto-src }
"
        done
        pre+="        iifname \"wan\" meta l4proto udp $inkey @own$j dnat ip to $h : udp dport map @port$j
"
    done
    maps+="    chain learn {
        type filter hook postrouting priority 300; policy accept;
$learn    }"
    local fwd='        iifname "wan" oifname "lan" ct status dnat accept'
    nft_router "masquerade" "$fwd" "$maps" "$pre" | load_nft "$r"
}

# full cone: EIM + endpoint-independent filtering: anyone may send to a mapped port.
rules_full() { rules_cone "$1" full "inet_service" "udp sport" "udp dport"; }

# address-restricted cone: EIM + address-dependent filtering: a remote address may send to
# a mapped port (from any of its ports) once the host has sent to that address.
rules_addr() {
    rules_cone "$1" addr "inet_service . ipv4_addr" "udp sport . ip daddr" "udp dport . ip saddr"
}

# ---- topology ----------------------------------------------------------------------------
build_inet() {
    mkns "$(ns inet)"
    bridge "$(ns inet)" br0
}

build_server() {
    mkns "$(ns srv)"
    on_inet "$(ns srv)" eth0 srv "$SRV_IP1" "$SRV_IP2"
}

build_open() { # no NAT: both hosts straight on the internet
    local j h
    for j in 1 2; do
        h=$(ns "open$j")
        mkns "$h"
        on_inet "$h" eth0 "open$j" "$(open_ip "$j")"
        set_port_range "$h" "$j"
    done
}

build_site() { # KIND: router PREFIX-rKIND with its LAN bridge and two hosts
    local k=$1 r; r=$(ns "r$k")
    mkns "$r" router
    if carrier_ns "$k" >/dev/null; then
        local c; c=$(carrier_ns "$k")
        build_cgn "$k"
        veth "$r" wan "$c" lan
        ip -n "$c" addr add "$CGN_LAN_IP/24" dev lan
        ip -n "$r" addr add "$HOME_WAN_IP/24" dev wan
        ip -n "$r" route add default via "$CGN_LAN_IP"
    elif behind_isp "$k"; then
        behind_isp_router "$r" "$k"
    else
        on_inet "$r" wan "r$k" "$(inet_ip "$k")"
    fi
    bridge "$r" lan
    ip -n "$r" addr add "$(lan_ip "$k" 1)/24" dev lan
    add_host "$k" 1 "$r"
    add_host "$k" 2 "$r"
    case $k in
        cgnat) rules_port "$r" ;;   # the home NAT
        cgclash) rules_clash "$r" ;;   # the home NAT, accepting WAN input
        *) "rules_$k" "$r" ;;
    esac
}

build_cgn() { # KIND: the carrier-grade NAT in front of the cgnat (or cgclash) home router
    local k=$1 c; c=$(carrier_ns "$1")
    mkns "$c" router
    if behind_isp "$k"; then
        behind_isp_router "$c" "$k"
    else
        on_inet "$c" wan cgn "$(inet_ip "$k")"
    fi
    # Its "lan" side is a plain veth to the home router, added by build_site. No route to
    # the home LANs is needed: the home router NATs them to its 100.64 address.
    # RFC 6888 REQ-1 wants EIM; filtering is APDF, as most CGNs do (cgclash's accepts WAN input).
    if [[ $k == cgclash ]]; then rules_clash "$c"; else rules_port "$c"; fi
}

behind_isp_router() { # NAT_NS KIND: the NAT's wan on a /30 to an ISP router, which is on the internet
    local n=$1 k=$2 i; i=$(ns "isp$k")
    mkns "$i" router
    on_inet "$i" inet "i$k" "$(isp_up_ip "$k")"
    veth "$i" cust "$n" wan
    ip -n "$i" addr add "$(isp_down_ip "$k")/30" dev cust
    ip -n "$n" addr add "$(inet_ip "$k")/30" dev wan
    ip -n "$n" route add default via "$(isp_down_ip "$k")"
}

# Everything on the internet bridge reaches the NATs behind ISP routers through those routers.
route_isp_nets() {
    local n k
    for n in $(lab_namespaces); do
        ip -n "$n" -4 route show 203.0.113.0/24 | grep -q . || continue
        for k in "${KINDS[@]}"; do
            behind_isp "$k" || continue
            [[ $n == "$(ns "isp$k")" ]] && continue
            ip -n "$n" route add "$(isp_net "$k")/30" via "$(isp_up_ip "$k")"
        done
    done
}

cmd_up() {
    cmd_down >/dev/null
    build_inet
    build_server
    build_open
    local k
    for k in "${KINDS[@]}"; do
        [[ $k == open ]] && continue
        build_site "$k"
    done
    route_isp_nets
    echo "lab '$PREFIX' is up: $(lab_namespaces | wc -l) namespaces"
}

# ---- teardown ----------------------------------------------------------------------------
lab_namespaces() { ip netns list | awk '{print $1}' | grep -E "^$PREFIX-" || true; }

cmd_down() {
    local n pids
    for n in $(lab_namespaces); do
        # Processes left in the lab (servers started by tests) would keep the namespace
        # and its interfaces alive after the name is gone.
        pids=$(ip netns pids "$n" 2>/dev/null || true)
        if [[ -n $pids ]]; then
            # shellcheck disable=SC2086
            kill $pids 2>/dev/null || true
            sleep 0.2
            # shellcheck disable=SC2086
            kill -9 $pids 2>/dev/null || true
        fi
        ip netns delete "$n" 2>/dev/null || true
    done
    # Nothing is ever created in the root namespace; make sure of it anyway.
    local l
    for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^$PREFIX-" || true); do
        ip link delete "$l" 2>/dev/null || true
    done
    rm -rf "/run/natpunch-lab-$PREFIX"
    echo "lab '$PREFIX' is down"
}

# ---- run-time knobs ----------------------------------------------------------------------
require_up() { ip netns list | grep -qE "^$(ns inet)( |$)" || die "lab '$PREFIX' is not up"; }

cmd_loss() {
    local pct=$1
    [[ $pct =~ ^[0-9]+$ && $pct -le 100 ]] || die "loss PERCENT must be 0..100"
    require_up
    nsx "$(ns inet)" nft delete table bridge loss 2>/dev/null || true
    ((pct == 0)) && { echo "loss off"; return; }
    # numgen random mod 100 is 0..99, so "< N" drops N% of IPv4 frames crossing the bridge
    # (in either direction). ARP is spared so loss does not turn into unreachable hosts.
    nsx "$(ns inet)" nft -f - <<EOF
table bridge loss {
    chain forward {
        type filter hook forward priority filter; policy accept;
        ether type ip numgen random mod 100 < $pct drop
    }
}
EOF
    echo "loss $pct%"
}

cmd_block_udp() {
    local k=$1 state=$2
    [[ " ${KINDS[*]} " == *" $k "* ]] || die "unknown kind '$k' (${KINDS[*]})"
    [[ $state == on || $state == off ]] || die "block-udp KIND on|off"
    require_up
    if [[ $k == open ]]; then
        # No router: drop at the hosts' ports of the internet bridge, so that, as behind a
        # router, packets vanish silently (a drop in the host's own output hook would hand
        # the application an EPERM instead).
        nsx "$(ns inet)" nft delete table bridge blockudp 2>/dev/null || true
        [[ $state == off ]] || nsx "$(ns inet)" nft -f - <<'EOF'
table bridge blockudp {
    chain forward {
        type filter hook forward priority filter - 10; policy accept;
        ether type ip ip protocol udp iifname { "open1", "open2" } drop
        ether type ip ip protocol udp oifname { "open1", "open2" } drop
    }
}
EOF
    else
        # Its own table, at a priority before the NAT table's forward chain: a drop here
        # wins even for established flows, and deleting the table restores the kind as it was.
        nsx "$(ns "r$k")" nft delete table inet blockudp 2>/dev/null || true
        [[ $state == off ]] || nsx "$(ns "r$k")" nft -f - <<'EOF'
table inet blockudp {
    chain forward {
        type filter hook forward priority filter - 10; policy accept;
        meta l4proto udp iifname "wan" drop
        meta l4proto udp oifname "wan" drop
    }
}
EOF
    fi
    echo "block-udp $k $state"
}

# An office network: from the LAN, only TCP to port 443 goes out (443), or nothing at all (proxy:
# the router itself, where the test runs an HTTP proxy, is the only way out). Its own table before
# the NAT table's forward chain, as block-udp; off deletes it.
cmd_lockdown() {
    local k=$1 mode=$2 r
    [[ " ${KINDS[*]} " == *" $k "* && $k != open ]] || die "lockdown needs a kind with a router (${KINDS[*]}), not '$k'"
    [[ $mode == 443 || $mode == proxy || $mode == off ]] || die "lockdown KIND 443|proxy|off"
    require_up
    r=$(ns "r$k")
    nsx "$r" nft delete table inet lockdown 2>/dev/null || true
    case $mode in
        443) nsx "$r" nft -f - <<'EOF'
table inet lockdown {
    chain forward {
        type filter hook forward priority filter - 10; policy accept;
        iifname "lan" oifname "wan" tcp dport 443 accept
        iifname "lan" oifname "wan" drop
    }
}
EOF
            ;;
        proxy) nsx "$r" nft -f - <<'EOF'
table inet lockdown {
    chain forward {
        type filter hook forward priority filter - 10; policy accept;
        iifname "lan" oifname "wan" drop
    }
}
EOF
            ;;
    esac
    echo "lockdown $k $mode"
}

# miniupnpd on the upnp router: UPnP-IGD (SSDP, then SOAP on port 5000), NAT-PMP and PCP (UDP
# 5351) to its LAN. It learns its external address with STUN against the lab server (203.0.113.10:3478,
# which must be running, with its other address) and checks that nothing filters the router itself;
# without that it refuses to map (TEST-NET-3 is a "reserved" range to it). Runs in the foreground of
# a background job, logging to LOGDIR/miniupnpd.log; `off` (or `down`) stops it.
cmd_upnp() {
    local state=$1 r dir pid
    [[ $state == on || $state == off ]] || die "upnp on|off"
    require_up
    r=$(ns rupnp)
    dir=/run/natpunch-lab-$PREFIX
    mkdir -p "$dir"
    if [[ -f $dir/miniupnpd.pid ]]; then
        pid=$(cat "$dir/miniupnpd.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        rm -f "$dir/miniupnpd.pid"
    fi
    nsx "$r" nft flush chain inet filter miniupnpd
    nsx "$r" nft flush chain inet filter prerouting_miniupnpd
    nsx "$r" nft flush chain inet filter postrouting_miniupnpd
    [[ $state == on ]] || { echo "upnp off"; return; }
    command -v miniupnpd >/dev/null || die "miniupnpd is not installed (Debian: miniupnpd-nftables)"
    cat >"$dir/miniupnpd.conf" <<EOF
ext_ifname=wan
listening_ip=lan
http_port=5000
enable_upnp=yes
enable_natpmp=yes
secure_mode=yes
system_uptime=yes
ext_perform_stun=yes
ext_stun_host=$SRV_IP1
ext_stun_port=3478
min_lifetime=60
max_lifetime=86400
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
allow 1024-65535 $(lan_ip upnp 0)/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
    nsx "$r" setsid miniupnpd -d -f "$dir/miniupnpd.conf" -P "$dir/miniupnpd.own.pid" >"$dir/miniupnpd.log" 2>&1 &
    echo $! >"$dir/miniupnpd.pid"
    # Ready when it listens for SOAP and has done its STUN tests.
    for _ in $(seq 50); do
        if nsx "$r" ss -ltn | grep -q ':5000 ' && grep -q "Port forwarding is now enabled" "$dir/miniupnpd.log"; then
            echo "upnp on (log: $dir/miniupnpd.log)"
            return
        fi
        sleep 0.2
    done
    cat "$dir/miniupnpd.log" >&2
    die "miniupnpd did not start with port forwarding enabled (is the lab server running on $SRV_IP1:3478 with --alt-address $SRV_IP2?)"
}

cmd_info() {
    echo "prefix=$PREFIX"
    echo "kinds=${KINDS[*]}"
    echo "inet_ns=$(ns inet)"
    echo "inet_net=203.0.113.0/24"
    echo "srv_ns=$(ns srv)"
    echo "srv_ip1=$SRV_IP1"
    echo "srv_ip2=$SRV_IP2"
    local k j
    for k in "${KINDS[@]}"; do
        for j in 1 2; do
            echo "host_$k${j}_ns=$(ns "$k$j")"
            if [[ $k == open ]]; then echo "host_$k${j}_ip=$(open_ip "$j")"
            else echo "host_$k${j}_ip=$(lan_ip "$k" $((j + 1)))"; fi
        done
        if [[ $k == open ]]; then
            echo "public_open1_ip=$(open_ip 1)"
            echo "public_open2_ip=$(open_ip 2)"
            continue
        fi
        echo "router_${k}_ns=$(ns "r$k")"
        echo "router_${k}_lan_ip=$(lan_ip "$k" 1)"
        if [[ $k == cgnat ]]; then
            echo "router_${k}_wan_ip=$HOME_WAN_IP"
            echo "cgn_ns=$(ns cgn)"
            echo "cgn_lan_ip=$CGN_LAN_IP"
            echo "cgn_wan_ip=$(inet_ip cgnat)"
        elif [[ $k == cgclash ]]; then
            echo "router_${k}_wan_ip=$HOME_WAN_IP"
            echo "carrier_${k}_ns=$(carrier_ns "$k")"
            echo "carrier_${k}_wan_ip=$(inet_ip "$k")"
        else
            echo "router_${k}_wan_ip=$(inet_ip "$k")"
        fi
        if behind_isp "$k"; then
            echo "isp_${k}_ns=$(ns "isp$k")"
            echo "isp_${k}_ip=$(isp_up_ip "$k")"
        fi
        # the address the internet sees for hosts of this kind
        echo "public_${k}_ip=$(inet_ip "$k")"
    done
}

cmd_exec() {
    local n=${1:-}
    shift || true
    [[ ${1:-} == -- ]] && shift
    [[ -n $n && $# -gt 0 ]] || die "usage: lab.sh exec NS -- CMD..."
    # Accept the full name (np-port1) or the short one (port1, in lab LAB_PREFIX or np).
    if ! ip netns list | grep -qE "^$n( |$)"; then
        set_prefix "${LAB_PREFIX:-np}"
        n=$(ns "$n")
    fi
    exec ip netns exec "$n" "$@"
}

usage() {
    sed -n '5,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

main() {
    local cmd=${1:-}
    shift || true
    [[ $EUID -eq 0 || $cmd == info ]] || die "needs root (network namespaces)"
    case $cmd in
        up) set_prefix "${1:-}"; cmd_up ;;
        down) set_prefix "${1:-}"; cmd_down ;;
        info) set_prefix "${1:-}"; cmd_info ;;
        exec) cmd_exec "$@" ;;
        loss) [[ $# -ge 1 ]] || usage; set_prefix "${2:-}"; cmd_loss "$1" ;;
        block-udp) [[ $# -ge 2 ]] || usage; set_prefix "${3:-}"; cmd_block_udp "$1" "$2" ;;
        lockdown) [[ $# -ge 2 ]] || usage; set_prefix "${3:-}"; cmd_lockdown "$1" "$2" ;;
        upnp) [[ $# -ge 1 ]] || usage; set_prefix "${2:-}"; cmd_upnp "$1" ;;
        *) usage ;;
    esac
}

main "$@"
