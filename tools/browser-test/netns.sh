#!/usr/bin/env bash
# Bad networks for the browser tests: a network namespace per link, joined
# to this machine by a veth pair whose addresses only the test uses, so no
# traffic leaves the machine.
#   netns.sh up NAME INDEX [loss=PERMILLE] [cap=KBIT]
#       namespace NAME, its end 10.238.INDEX.2, ours 10.238.INDEX.1;
#       loss: that share of UDP dropped each way (nftables, at random);
#       cap: what reaches the namespace limited to KBIT kbit/s (tbf)
#   netns.sh down NAME
# This kernel may lack netem (CONFIG_NET_SCH_NETEM): loss and the cap are
# made with nftables and tbf, which it has; added delay is left to the
# simulated-time tests (src/sfu/testnet.rs).
set -euo pipefail
sudo=""
[[ $(id -u) == 0 ]] || sudo=sudo
action=$1 name=$2

if [[ $action == down ]]; then
  $sudo ip link del "v-$name" 2>/dev/null || true
  $sudo ip netns del "$name" 2>/dev/null || true
  exit 0
fi

index=$3
shift 3
loss=0 cap=0
for arg in "$@"; do
  case "$arg" in
    loss=*) loss=${arg#loss=} ;;
    cap=*) cap=${arg#cap=} ;;
    *) echo "netns.sh: unknown setting $arg" >&2; exit 2 ;;
  esac
done
ours=10.238.$index.1 theirs=10.238.$index.2
$sudo ip netns add "$name"
$sudo ip link add "v-$name" type veth peer name eth0 netns "$name"
$sudo ip addr add "$ours/30" dev "v-$name"
$sudo ip link set "v-$name" up
# IPv4 only: an IPv6 link-local address finishing its duplicate check a
# second later is a network change to a Chromium already started in the
# namespace, which then aborts its page load (ERR_NETWORK_CHANGED).
$sudo sysctl -qw "net.ipv6.conf.v-$name.disable_ipv6=1"
$sudo ip netns exec "$name" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=1
$sudo ip netns exec "$name" ip addr add "$theirs/30" dev eth0
$sudo ip netns exec "$name" ip link set eth0 up
$sudo ip netns exec "$name" ip link set lo up
$sudo ip netns exec "$name" ip route add default via "$ours"
# Settled before anyone uses it: both ends carry.
for _ in $(seq 50); do
  [[ $($sudo ip netns exec "$name" cat /sys/class/net/eth0/operstate) == up &&
     $(cat "/sys/class/net/v-$name/operstate") == up ]] && break
  sleep 0.1
done
if ((loss > 0)); then
  $sudo ip netns exec "$name" nft -f - <<NFT
table inet confcam_loss {
  chain out { type filter hook output priority 0; meta l4proto udp numgen random mod 1000 < $loss drop; }
  chain in { type filter hook input priority 0; meta l4proto udp numgen random mod 1000 < $loss drop; }
}
NFT
fi
if ((cap > 0)); then
  # Towards the namespace: the viewer's downlink. A 300 ms queue, as a
  # home router's.
  $sudo tc qdisc add dev "v-$name" root tbf rate "${cap}kbit" burst 16kbit latency 300ms
fi
